"""The catalogue of facts a caller may submit (contract evaluate-v1), as data.

One source of truth for three readers: the API builds its marshmallow schemas
from it, the ruleset validator type-checks conditions against it, and the
engine normalises submitted facts with it.  Each list has fields with a wire
type (what the caller sends) that expands to one or more *condition fields*
(what a rule may compare):

- ``date`` ("2021-04-08") becomes a day number, so dates compare and subtract;
  a nullable date also gives a boolean flag (``submitted_on: null`` means
  "not submitted": flag false, date unknown);
- ``month`` / ``period`` ("2021-03" or "2021") gives ``year`` and ``month``
  (and ``annual`` for a period that is a whole year);
- ``enum_list`` (``activities``) gives one boolean per possible value, so a
  condition says ``'mining' in e.activities``.

What each wire type means to each reader (its marshmallow field, its fast check, its condition fields,
its normaliser) is one table, :mod:`policy.wire_types`.

A field the caller leaves out is *unknown*: it is absent from the prepared
fact and no condition on it can hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping

from policy.wire_types import ConditionField, WireField, wire_type

ACTIVITIES = ("mining", "smelting_separation", "comprehensive_utilization")
# An enterprise may also carry on activities outside total-quantity control that the Regulation (2024)
# binds (Arts. 12, 14(2)): metal smelting and exporting rare-earth products.  They are enterprise
# activities only: no quota is allocated or production reported for them.
ENTERPRISE_ACTIVITIES = ACTIVITIES + ("metal_smelting", "export")
ORE_TYPES = ("rock", "ion")
REPORT_LEVELS = ("enterprise", "group")
RECIPIENTS = ("provincial_miit", "miit", "county")  # county: Measures (2025) Art. 9 (extension of v1)
TRANSACTION_TYPES = ("toll_processing", "purchase", "raw_material_use", "import", "sale", "export")
# Instruments whose provisions a penalty decision found breached (Measures 2025 Art. 14 applies only to
# a penalty for breaching the Measures); ``other``: any other law (e.g. air pollution).
PENALTY_BREACHES = ("measures_2025", "regulation_2024", "other")
MATERIALS = ("rare_earth_mineral_product", "rare_earth_enrichment", "imported_mineral_product", "other")

# Display names of enumerated values, used in violation messages (zh, en).
ENUM_LABELS: dict[str, dict[str, str]] = {
    "mining": {"zh": "稀土开采", "en": "mining"},
    "smelting_separation": {"zh": "稀土冶炼分离", "en": "smelting/separation"},
    "comprehensive_utilization": {"zh": "综合利用", "en": "comprehensive utilisation"},
    "metal_smelting": {"zh": "稀土金属冶炼", "en": "metal smelting"},
    "export": {"zh": "出口", "en": "export"},
    "sale": {"zh": "销售", "en": "sale"},
    "measures_2025": {"zh": "《稀土开采和稀土冶炼分离总量调控管理暂行办法》", "en": "the 2025 Measures"},
    "regulation_2024": {"zh": "《稀土管理条例》", "en": "the Rare Earth Regulation"},
    "rock": {"zh": "岩矿型", "en": "rock-type"},
    "ion": {"zh": "离子型", "en": "ion-adsorption-type"},
    "enterprise": {"zh": "企业", "en": "enterprise"},
    "group": {"zh": "稀土集团", "en": "group"},
    "provincial_miit": {"zh": "省级工业和信息化主管部门", "en": "provincial industry and IT authority"},
    "miit": {"zh": "工业和信息化部", "en": "MIIT"},
    "county": {
        "zh": "住所地县级工业和信息化、自然资源主管部门",
        "en": "county industry/IT and natural-resources authorities",
    },
    "toll_processing": {"zh": "代加工（含委托加工）", "en": "toll processing (incl. commissioned processing)"},
    "purchase": {"zh": "采购", "en": "purchase"},
    "raw_material_use": {"zh": "原料使用", "en": "use as raw material"},
    "import": {"zh": "进口", "en": "import"},
    "rare_earth_mineral_product": {"zh": "稀土矿产品", "en": "rare-earth mineral product"},
    "rare_earth_enrichment": {"zh": "稀土富集物", "en": "rare-earth enrichment"},
    "imported_mineral_product": {"zh": "进口稀土矿产品", "en": "imported rare-earth mineral product"},
    "other": {"zh": "其他", "en": "other"},
}


@dataclass(frozen=True)
class FactList:
    """One list of ``facts`` in the request."""

    name: str
    fields: tuple[WireField, ...]
    label: Mapping[str, str]
    time_field: str | None = None  # the field that places a fact in time (for ruleset periods)
    identity: str | None = None  # the field other facts reference this one by
    condition_fields: dict[str, ConditionField] = field(default_factory=dict)

    def wire(self, name: str) -> WireField | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


def _s(name: str, **kw) -> WireField:
    return WireField(name, "string", max_length=kw.pop("max_length", None), **kw)


def _id(name: str, **kw) -> WireField:
    return WireField(name, "string", max_length=128, **kw)


def _b(name: str) -> WireField:
    return WireField(name, "boolean")


def _n(name: str, **kw) -> WireField:
    return WireField(name, "number", minimum=0, **kw)


_ENTERPRISE_FLAGS = (
    "designated",
    "mining_license",
    "safety_license",
    "recycling_project_expired",
    "ordered_to_suspend",
    "banned_process",
    "emissions_compliant",
    "radiation_compliant",
    "tailings_compliant",
    "long_term_shutdown",
    "traceability_system",
    "flow_records",
    "national_traceability_entry",
    "data_security_system",
    "flow_records_truthful",  # extension: flow records kept truthfully (Regulation Arts. 14(2), 25)
)

# A group's own traceability, flow-record and data-security systems (draft Measures Arts. 12-13).
_GROUP_FLAGS = ("traceability_system", "flow_records", "national_traceability_entry", "data_security_system")

_LISTS: tuple[FactList, ...] = (
    FactList(
        "groups",
        (
            _id("id", required=True),
            _s("name"),
            _b("designated"),
            # extension: a group's own systems (draft Measures Arts. 12-13 bind 稀土集团及所属企业)
            *(_b(f) for f in _GROUP_FLAGS),
        ),
        {"zh": "稀土集团", "en": "groups"},
        identity="id",
    ),
    FactList(
        "enterprises",
        (
            _id("id", required=True),
            _s("name"),
            _id("group", nullable=True, ref="groups", flag="in_group"),
            WireField("activities", "enum_list", enum=ENTERPRISE_ACTIVITIES),
            *(_b(f) for f in _ENTERPRISE_FLAGS),
            _n("separation_capacity_t_reo"),
            # extension, superseded: illegal gains belong to an act (a transaction's own illegal_gains_yuan), not to
            # an enterprise; accepted for compatibility, read by no shipped rule
            _n("illegal_gains_yuan"),
            _b("obstructed_inspection"),  # extension: refused or obstructed an inspection (Regulation Arts. 18(3), 26)
            _b(
                "production_conditions"
            ),  # extension: has the conditions for production (具备生产条件, notice para. 3(5))
        ),
        {"zh": "企业", "en": "enterprises"},
        identity="id",
    ),
    FactList(
        "allocations",
        (
            _id("enterprise", required=True, ref="enterprises"),
            _id("group", nullable=True, ref="groups"),
            WireField("year", "integer", required=True),
            WireField("activity", "enum", required=True, enum=ACTIVITIES),
            WireField("ore_type", "enum", enum=ORE_TYPES),
            _n("amount_t_reo", required=True),
            WireField("issued_on", "date", nullable=True, flag="issued"),
            WireField("filed_on", "date", nullable=True, flag="filed"),
            # extension: the batch of the year's quota it splits, and the notice that issued that batch (ruleset `batches`)
            _id("batch"),
            _s("notice", max_length=200),
        ),
        {"zh": "指标分解", "en": "allocations"},
        time_field="year",
    ),
    FactList(
        "production",
        (
            _id("enterprise", required=True, ref="enterprises"),
            _id(
                "group", ref="groups"
            ),  # extension: the group whose monthly report covers this production (notice paras. 6-7)
            WireField("period", "month", required=True),
            WireField("activity", "enum", required=True, enum=ACTIVITIES),
            WireField("ore_type", "enum", enum=ORE_TYPES),
            _n("amount_t_reo", required=True),
            _b(
                "outside_registered_area"
            ),  # extension: mined outside the mining right's registered area (Regulation Art. 20(1))
        ),
        {"zh": "生产", "en": "production"},
        time_field="period",
    ),
    FactList(
        "reports",
        (
            _id("reporter", required=True),
            WireField("level", "enum", required=True, enum=REPORT_LEVELS),
            WireField("period", "period", required=True),
            WireField("recipient", "enum", enum=RECIPIENTS),
            WireField("submitted_on", "date", nullable=True, flag="submitted"),
            _n("reported_amount_t_reo"),
            _b("includes_traceability_data"),
        ),
        {"zh": "报送", "en": "reports"},
        time_field="period",
    ),
    FactList(
        "transactions",
        (
            _id("enterprise", required=True, ref="enterprises"),
            WireField("date", "date"),
            WireField("type", "enum", required=True, enum=TRANSACTION_TYPES),
            WireField("material", "enum", enum=MATERIALS),
            _b("source_legal"),
            _b("import_compliant"),
            _b(
                "export_compliant"
            ),  # extension: export complied with foreign-trade and export-control law (Regulation Art. 15)
            _n("illegal_gains_yuan"),  # extension: illegal gains of this act, as established (Regulation Arts. 22, 23)
        ),
        {"zh": "交易", "en": "transactions"},
        time_field="date",
    ),
    # extension: monthly entries of product-flow data into the national traceability system (Measures 2025 Art. 10)
    FactList(
        "flow_entries",
        (
            _id("enterprise", required=True, ref="enterprises"),
            WireField("period", "month", required=True),
            WireField("entered_on", "date", nullable=True, flag="entered"),
        ),
        {"zh": "流向信息录入", "en": "flow-data entries"},
        time_field="period",
    ),
    # extension: administrative penalties an enterprise received (Measures 2025 Art. 14)
    FactList(
        "penalties",
        (
            _id("enterprise", required=True, ref="enterprises"),
            WireField("date", "date", required=True),
            _s("authority", max_length=200),
            _s("basis", max_length=500),
            # extension: the instruments whose provisions the decision found breached (Measures 2025 Art. 14)
            WireField("breached", "enum_list", enum=PENALTY_BREACHES),
        ),
        {"zh": "行政处罚", "en": "administrative penalties"},
        time_field="date",
    ),
    FactList(
        "group_quotas",
        (
            _id("group", required=True, ref="groups"),
            WireField("year", "integer", required=True),
            WireField("activity", "enum", required=True, enum=ACTIVITIES),
            WireField("ore_type", "enum", enum=ORE_TYPES),
            _n("amount_t_reo", required=True),
            _id("batch"),
            _s("notice", max_length=200),  # extension: as on allocations
        ),
        {"zh": "集团指标", "en": "group quotas"},
        time_field="year",
    ),
)


def _condition_fields(lst: FactList) -> dict[str, ConditionField]:
    """Expand wire fields into the fields a condition may read (each wire type's expansion: policy.wire_types)."""
    return {c.name: c for f in lst.fields for c in wire_type(f).condition_fields(f)}


for _lst in _LISTS:
    _lst.condition_fields.update(_condition_fields(_lst))

FACT_LISTS: dict[str, FactList] = {lst.name: lst for lst in _LISTS}

# Names the engine uses on every prepared fact; no fact field or derived field may take them.
# (A caller's ``id`` is carried under another property name: ``id`` is the engine's fact identity.)
RESERVED_FIELDS = frozenset({"sid", "kind", "ident", "_as_of"})
