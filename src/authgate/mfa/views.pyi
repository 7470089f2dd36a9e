# The types of `authgate.mfa.views`, the module's old path: at run time it is `authgate.api.views.mfa`
# itself (authgate._moved), which has no file here for a type checker to read.
from authgate.api.views.mfa import *
