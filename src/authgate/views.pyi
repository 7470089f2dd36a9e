# The types of `authgate.views`, the module's old path: at run time it is `authgate.api.views`
# itself (authgate._moved), which has no file here for a type checker to read.
from authgate.api.views import *
