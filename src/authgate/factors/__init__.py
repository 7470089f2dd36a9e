"""
The second-factor core that every way in asks, below the HTTP API and the factor
implementations: the provider registry (`registry`, whose names this package re-exports:
`authgate.factors.register` is `authgate.factors.registry.register`), the gate every first
factor passes (`gate`), the pending login step (`pending`, on the `PendingLogin` table of
`models`), factor events (`events`) and recent authentication (`reauth`).

Imports run down from here: nothing in this package imports `authgate.mfa` (the factors
themselves, which plug in through the registry) or `authgate.api` (the views that use it).
Importing the package loads only the registry.
"""

from .registry import AMR_VALUES as AMR_VALUES
from .registry import DEFAULT_PROVIDERS as DEFAULT_PROVIDERS
from .registry import FACTOR_AMR as FACTOR_AMR
from .registry import FactorProvider as FactorProvider
from .registry import InvalidProof as InvalidProof
from .registry import challenges as challenges
from .registry import enabled_providers as enabled_providers
from .registry import get as get
from .registry import has_factor as has_factor
from .registry import has_factor_once as has_factor_once
from .registry import methods as methods
from .registry import providers as providers
from .registry import register as register
from .registry import reset as reset
from .registry import unregister as unregister
from .registry import verify as verify
