# The types of `authgate.mfa.reauth`, the module's old path: at run time it is `authgate.factors.reauth`
# itself (authgate._moved), which has no file here for a type checker to read.
from authgate.factors.reauth import *
