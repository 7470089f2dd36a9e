# The types of `authgate.cookies`, the module's old path: at run time it is `authgate.api.cookies`
# itself (authgate._moved), which has no file here for a type checker to read.
from authgate.api.cookies import *
