# The types of `authgate.mfa.pending`, the module's old path: at run time it is `authgate.factors.pending`
# itself (authgate._moved), which has no file here for a type checker to read.
from authgate.factors.pending import *
