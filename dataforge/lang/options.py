"""``language:`` and ``per_language:`` options for filters whose rules depend on the language.

A params model that subclasses ``LanguageParams`` and sets ``STAGE`` gets:

* ``language``: the language of documents that ``langid`` has not tagged
  (``doc.meta['lang']`` wins when present); null = the English rules, unchanged;
* ``per_language``: ``{zh: {min_doc_words: 30}, ja: {...}}``, options for one language,
  validated like the stage's own (an unknown language code or option name is an error
  at that key: ``stages[2].gopher_quality.per_language.zh.min_doc_wrds: unknown option``;
  NaN, infinity and out-of-range values too), and then merged with the language's
  defaults and checked again as a whole, so a language's options that contradict each
  other are refused before the run, not in the middle of it.

``LanguageRules.params_for(lang)`` gives the stage's params for one language, built once per
language and stage: see ``defaults.py`` for the precedence.
"""

from __future__ import annotations

import sys
from copy import copy
from types import GenericAlias
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, TypeVar, cast

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from ..document import Document
from ..stage import FilterParams
from .codes import check_code
from .defaults import language_defaults

if TYPE_CHECKING:  # (typing_extensions has TypeForm from 4.13; only the checker needs it)
    from typing_extensions import TypeForm

#: a language code in a params model: normalised to the project's code, or a located error
LanguageCode = Annotated[str, AfterValidator(check_code)]
_OWN = ("language", "per_language", "sample_rejected")


class LanguageParams(FilterParams):
    """Base of the params of a filter with per-language defaults (subclasses set ``STAGE``)."""

    STAGE: ClassVar[str] = ""
    #: the subclass's own options, each optional (built by ``__pydantic_init_subclass__``)
    Overrides: ClassVar[type[BaseModel]]

    # language of documents without meta['lang'] (set by langid); null = English rules
    language: LanguageCode | None = None
    # options for one language, e.g. {zh: {min_doc_words: 30}}; they win over the language's defaults
    per_language: dict[LanguageCode, Any] = Field(default_factory=dict)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Give the subclass a model of its own options, all optional, for ``per_language``."""
        super().__pydantic_init_subclass__(**kwargs)
        fields: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            if name in _OWN:
                continue
            opt = copy(info)
            # unset = None (defaults are not validated); a value given, null included, has the option's own type
            opt.default, opt.default_factory = None, None
            fields[name] = (info.annotation, opt)
        name = f"{cls.__name__}Overrides"
        over = create_model(name, __config__=ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False),
                            __module__=cls.__module__, **fields)
        setattr(sys.modules[cls.__module__], name, over)  # picklable by name, like any class
        cls.Overrides = over
        per = copy(cls.model_fields["per_language"])
        # dict[LanguageCode, over]: ``over`` is a class built just above, so no static type expression
        # names it; the cast says the alias is a type form (what ``annotation`` holds) all the same
        per.annotation = cast("TypeForm[Any]", GenericAlias(dict, (LanguageCode, over)))
        cls.model_fields["per_language"] = per
        cls.model_rebuild(force=True)

    @model_validator(mode="after")
    def _languages_whole(self) -> "LanguageParams":
        """Each per_language block merged with its language's defaults is a valid set of options."""
        for language in self.per_language:
            try:
                for_language(self, language)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(x) for x in err["loc"])
                raise ValueError(f"per_language.{language}{'.' + where if where else ''}: {err['msg']} "
                                 f"(for '{language}' documents, with that language's defaults)") from None
        return self


P = TypeVar("P", bound=LanguageParams)


def for_language(params: P, language: str | None) -> P:
    """``params`` as they apply to documents in ``language`` (see ``defaults.py``)."""
    if language is None:
        return params
    table = language_defaults(params.STAGE, language)
    override = params.per_language.get(language)
    if not table and override is None:
        return params
    values = params.model_dump()
    for option, (value, _source) in table.items():
        if option not in params.model_fields_set:
            values[option] = value
    if override is not None:
        for option in override.model_fields_set:
            values[option] = getattr(override, option)
    values["per_language"] = {}
    return type(params).model_validate(values)


class LanguageRules(Generic[P]):
    """Mixin for a filter with ``LanguageParams``: which language a document is in, and
    the params for it (built once per language)."""

    params: P

    def language_of(self, doc: Document) -> str | None:
        lang = doc.meta.get("lang")
        return lang if isinstance(lang, str) and lang else self.params.language

    def params_for(self, language: str | None) -> P:
        cache: dict[str | None, P] = self.__dict__.setdefault("_by_language", {})
        if language not in cache:
            cache[language] = for_language(self.params, language)
        return cache[language]
