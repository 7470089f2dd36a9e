# The types of `authgate.mfa.gate`, the module's old path: at run time it is `authgate.factors.gate`
# itself (authgate._moved), which has no file here for a type checker to read.
from authgate.factors.gate import *
