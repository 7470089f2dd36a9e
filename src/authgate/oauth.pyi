# The types of `authgate.oauth`, the module's old path: at run time it is `authgate.api.oauth`
# itself (authgate._moved), which has no file here for a type checker to read.
from authgate.api.oauth import *
