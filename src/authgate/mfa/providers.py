"""
Where the factor-provider registry was first published: every name here is the very
object of `authgate.factors` (one registry, whichever path names it), re-exported so that
`from authgate.mfa.providers import FactorProvider, InvalidProof, register` keeps working.
"""

from ..factors import AMR_VALUES as AMR_VALUES
from ..factors import DEFAULT_PROVIDERS as DEFAULT_PROVIDERS
from ..factors import FACTOR_AMR as FACTOR_AMR
from ..factors import FactorProvider as FactorProvider
from ..factors import InvalidProof as InvalidProof
from ..factors import challenges as challenges
from ..factors import enabled_providers as enabled_providers
from ..factors import get as get
from ..factors import has_factor as has_factor
from ..factors import has_factor_once as has_factor_once
from ..factors import methods as methods
from ..factors import providers as providers
from ..factors import register as register
from ..factors import reset as reset
from ..factors import unregister as unregister
from ..factors import verify as verify
