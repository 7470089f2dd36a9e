"""
Primary-key lookups whose SQL is compiled once per database, for the per-request path.

Measured (bench/RESULTS.md): compiling `Session.objects.select_related("user").get(pk=...)`
takes ~0.5 ms, more than running it; Django recompiles it on every call. `PreparedGet`
compiles the same queryset once per database alias and then reuses Django's own machinery
for the rest — parameter adaptation, value converters, model and related-model
construction (what `ModelIterable` does) — so the result is exactly what `.get()` returns.
"""

import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.db import connections, router
from django.db.models import Model
from django.db.models.sql.compiler import SQLCompiler

if TYPE_CHECKING:
    from django.db.models import Expression
    from django.db.models.query import RelatedPopulator

try:  # Django's internals: if a future version moves them, every lookup uses the ORM instead
    from django.db.models.query import get_related_populators
except ImportError:  # pragma: no cover — depends on the Django version
    get_related_populators = None  # type: ignore[assignment]

logger = logging.getLogger("authgate.prepared")


M = TypeVar("M", bound=Model)


class _Compiled:
    __slots__ = ("sql", "compiler", "converters", "init_list", "start", "end", "populators")

    sql: str
    compiler: SQLCompiler
    converters: "dict[int, tuple[list[Callable[..., Any]], Expression]]"
    init_list: list[str]
    start: int
    end: int
    populators: "list[RelatedPopulator]"


class PreparedGet(Generic[M]):
    def __init__(self, model: type[M], select_related: Iterable[str] = ()) -> None:
        self.model = model
        self.select_related = tuple(select_related)
        self._compiled: dict[str, _Compiled | None] = {}
        self._lock = threading.Lock()

    def _compile(self, alias: str) -> _Compiled | None:
        """The compiled lookup, or None when this Django does not fit what it relies on."""
        if get_related_populators is None:
            return None
        try:
            return self._compile_with_django_internals(alias)
        except Exception as exc:  # noqa: BLE001 — any mismatch: the ORM, correct if slower
            logger.warning(
                "PreparedGet(%s) falls back to the ORM: %s: %s", self.model.__name__, exc.__class__.__name__, exc
            )
            return None

    def _compile_with_django_internals(self, alias: str) -> _Compiled | None:
        queryset = self.model._default_manager.using(alias)
        if self.select_related:
            queryset = queryset.select_related(*self.select_related)
        # Any valid pk value: it is replaced by the real one at execution.
        sample = self.model._meta.pk.to_python(self.model._meta.pk.get_default() or 0)
        # No ORDER BY: the model's default ordering would make the database sort the one
        # row (`.get()` drops it too).
        compiler = queryset.filter(pk=sample).order_by().query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        if len(params) != 1:  # not the simple shape this class relies on
            return None
        compiled = _Compiled()
        compiled.sql, compiled.compiler = sql, compiler
        select, klass_info = compiler.select, compiler.klass_info
        compiled.converters = compiler.get_converters([column[0] for column in select])
        fields = klass_info["select_fields"]
        compiled.start, compiled.end = fields[0], fields[-1] + 1
        compiled.init_list = [column[0].target.attname for column in select[compiled.start : compiled.end]]
        # django-stubs describes Django 6.1, which adds `fetch_mode`; 5.2 and 6.0 take three (on
        # 6.1 this call fails and the lookup falls back to the ORM).
        compiled.populators = get_related_populators(klass_info, select, alias)  # type: ignore[call-arg]
        return compiled

    def get(self, pk: object) -> M | None:
        """The instance with this pk (related objects loaded), or None."""
        alias = router.db_for_read(self.model)
        if alias not in self._compiled:
            with self._lock:
                self._compiled.setdefault(alias, self._compile(alias))
        compiled = self._compiled[alias]
        if compiled is None:
            queryset = self.model._default_manager.using(alias).select_related(*self.select_related)
            return queryset.filter(pk=pk).first()
        connection = connections[alias]
        param = self.model._meta.pk.get_db_prep_value(self.model._meta.pk.to_python(pk), connection)
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, [param])
            row = cursor.fetchone()
        if row is None:
            return None
        if compiled.converters:
            row = next(iter(compiled.compiler.apply_converters([row], compiled.converters)))
        instance = self.model.from_db(alias, compiled.init_list, row[compiled.start : compiled.end])
        for populator in compiled.populators:
            populator.populate(row, instance)
        return instance
