# The types of `authgate.authentication`, the module's old path: at run time it is `authgate.api.authentication`
# itself (authgate._moved), which has no file here for a type checker to read.
from authgate.api.authentication import *
