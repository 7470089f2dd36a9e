# The types of `authgate.mfa.events`, the module's old path: at run time it is `authgate.factors.events`
# itself (authgate._moved), which has no file here for a type checker to read.
from authgate.factors.events import *
