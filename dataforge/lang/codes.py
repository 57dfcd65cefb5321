"""Language codes: the project's codes, and the labels language-ID models give.

The project's code for a language is lid.176's label (fastText, Joulin et al. 2016): ISO
639-1 where the language has one (``zh``, ``ja``, ``de``), else ISO 639-3 or the
Wikipedia code lid.176 was trained on (``ceb``, ``als`` = Alemannic). ``doc.meta['lang']``
holds it, pipeline files name languages with it, and the per-language tables are keyed
by it.

GlotLID (Kargaran et al. 2023, the model FineWeb-2 used) labels are ISO 639-3 plus an
ISO 15924 script (``cmn_Hani``, ``jpn_Jpan``, ``arb_Arab``): ``project_code`` maps them
(and any other ``xxx`` / ``xxx_Scrp`` label) to the project's code, individual languages
of a macrolanguage to the code lid.176 uses for it (``cmn`` -> ``zh``, ``arb`` -> ``ar``).
"""

from __future__ import annotations

import difflib
import re

#: lid.176's 176 labels (fastText lid.176.ftz, ``model.get_labels()``)
LID176 = frozenset(
    "af als am an ar arz as ast av az azb ba bar bcl be bg bh bn bo bpy br bs bxr ca cbk ce ceb ckb co cs "
    "cv cy da de diq dsb dty dv el eml en eo es et eu fa fi fr frr fy ga gd gl gn gom gu gv he hi hif hr "
    "hsb ht hu hy ia id ie ilo io is it ja jbo jv ka kk km kn ko krc ku kv kw ky la lb lez li lmo lo lrc "
    "lt lv mai mg mhr min mk ml mn mr mrj ms mt mwl my myv mzn nah nap nds ne new nl nn no oc or os pa pam "
    "pfl pl pms pnb ps pt qu rm ro ru rue sa sah sc scn sco sd sh si sk sl so sq sr su sv sw ta te tg th "
    "tk tl tr tt tyv ug uk ur uz vec vep vi vls vo wa war wuu xal xmf yi yo yue zh".split()
)

# ISO 639-3 -> ISO 639-1 (ISO 639-2 registration tables), for the languages that have both;
# individual languages of a macrolanguage map to the macrolanguage's 639-1 code, as lid.176 labels them
_ISO3_TO_1 = dict(pair.split(":") for pair in (
    "afr:af amh:am arg:an ara:ar arb:ar asm:as ava:av aze:az azj:az bak:ba bel:be bul:bg bih:bh ben:bn "
    "bod:bo bre:br bos:bs cat:ca che:ce ces:cs chv:cv cym:cy dan:da deu:de div:dv ell:el eng:en epo:eo "
    "spa:es est:et ekk:et eus:eu fas:fa pes:fa fin:fi fra:fr fry:fy gle:ga gla:gd glg:gl grn:gn gug:gn "
    "guj:gu glv:gv heb:he hin:hi hrv:hr hat:ht hun:hu hye:hy ina:ia ind:id ile:ie ido:io isl:is ita:it "
    "jpn:ja jav:jv kat:ka kaz:kk khm:km kan:kn kor:ko kur:ku kmr:ku kom:kv kpv:kv cor:kw kir:ky lat:la "
    "ltz:lb lim:li lao:lo lit:lt lav:lv lvs:lv mlg:mg plt:mg mkd:mk mal:ml mon:mn khk:mn mar:mr msa:ms "
    "zsm:ms mlt:mt mya:my nep:ne npi:ne nld:nl nno:nn nor:no nob:no oci:oc ori:or ory:or oss:os pan:pa "
    "pol:pl pus:ps pbt:ps por:pt que:qu roh:rm ron:ro rus:ru san:sa srd:sc snd:sd hbs:sh sin:si slk:sk "
    "slv:sl som:so sqi:sq als:sq srp:sr sun:su swe:sv swa:sw swh:sw tam:ta tel:te tgk:tg tha:th tuk:tk "
    "tgl:tl tur:tr tat:tt uig:ug ukr:uk urd:ur uzb:uz uzn:uz vie:vi vol:vo wln:wa yid:yi ydd:yi yor:yo "
    "zho:zh cmn:zh lzh:zh"
).split())
# ISO 639-3 codes lid.176 labels with another (Wikipedia) code
_ISO3_OTHER = {"gsw": "als", "yue": "yue", "wuu": "wuu", "ckb": "ckb", "arz": "arz", "azb": "azb"}

_LABEL = re.compile(r"^(?:__label__)?([a-z]{2,3})(?:[_-]([A-Z][a-z]{3}))?$")


def split_label(label: str) -> tuple[str, str | None]:
    """A model's label -> (project code, script or None). ``__label__cmn_Hani`` -> ("zh", "Hani");
    ``__label__de`` -> ("de", None). A label of another form is returned as it is."""
    m = _LABEL.match(label.strip())
    if not m:
        return label.removeprefix("__label__"), None
    code, script = m.group(1), m.group(2)
    if len(code) == 3 and not (script is None and code in LID176):  # "als" alone is lid.176's Alemannic
        code = _ISO3_OTHER.get(code) or _ISO3_TO_1.get(code) or code
    return code, script


def project_code(label: str) -> str:
    """The project's code for a language-ID label or a code a user wrote (``cmn_Hani`` -> ``zh``)."""
    return split_label(label)[0]


def check_code(code: str) -> str:
    """``code`` in the project's form, or ValueError saying which codes exist (for params models)."""
    if not isinstance(code, str) or not code:
        raise ValueError(f"a language code must be a non-empty string, got {code!r}")
    norm = project_code(code)
    if norm in LID176 or re.fullmatch(r"[a-z]{3}", norm):  # any ISO 639-3 code (GlotLID knows ~2,000)
        return norm
    close = difflib.get_close_matches(norm, sorted(LID176), n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    raise ValueError(f"unknown language code {code!r}{hint}; use lid.176's codes (ISO 639-1 such as "
                     "'zh', 'ja', 'de') or GlotLID labels such as 'cmn_Hani'")
