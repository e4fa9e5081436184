"""Web pages for legal reviewers (server-rendered, no build step): instruments with the rules beside each
provision, coverage with each rule's sign-off, rules (in plain words, with their scenarios and a sign-off
form), version differences, and an evaluate page that highlights the cited provisions.  Chinese first,
English with ``?lang=en``.  Pages need a ``legal`` or ``regulator`` token (entered once at /ui/login, which
starts a signed, expiring session; ``POST /ui/logout`` ends it); the evaluate page follows the evaluate
endpoint's rule.  Every form carries a CSRF token and every POST is checked to come from this site
(api.web_security)."""

from __future__ import annotations

import difflib

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from api.auth import authenticate, principal_of_token, session_clock, token_digest, token_fingerprint
from api.errors import ApiError
from api.json_input import parse_json_text
from api.query import comment_text
from api.web_security import protect_unsafe_request, safe_next
from api.charts import coverage_chart, coverage_counts, group_charts, production_charts
from api.drafts import activate, author_of, draft_page, preview_impact, publish_edit
from api.impact import DEFAULT_LIMIT
from api.rule_view import find_rule, interpretation_register, rule_view, sign_off
from api.why import why
from policy.coverage import (
    STATUS_LABELS as COVERAGE_LABELS,
    coverage,
    load_not_a_violation,
    load_out_of_scope,
    load_partly_implemented,
)
from policy.diff import diff as ruleset_diff
from policy.labels import INSTRUMENT_STATUS, JOB_STATUS, REVIEW_UNAVAILABLE, SEVERITY, VERSION_STATUS, label
from policy.param_edit import EditError, shown
from policy.plain import load_vocabulary
from policy.review import STATUS_LABELS, review_state, rule_dependencies, rule_digest

bp = Blueprint("ui", __name__, url_prefix="/ui", template_folder="templates")
bp.before_request(protect_unsafe_request)


def _lang() -> str:
    return "en" if request.args.get("lang") == "en" else "zh"


def _page(template: str, **context):
    lang = _lang()
    return render_template(
        template,
        lang=lang,
        t=lambda zh, en: en if lang == "en" else zh,
        status_label=lambda s: label(INSTRUMENT_STATUS, s, lang),
        review_label=lambda s: label({**STATUS_LABELS, **REVIEW_UNAVAILABLE}, s, lang),
        version_label=lambda s: label(VERSION_STATUS, s, lang),
        severity_label=lambda s: label(SEVERITY, s, lang),
        job_label=lambda s: label(JOB_STATUS, s, lang),
        unit_label=lambda u: label(load_vocabulary().units, u, lang),
        implemented_by=lambda item: _implemented_by(item, lang),
        **context,
    )


# What besides a rule implements a provision (policy.coverage.ruleset_citations names it in English).
IMPLEMENTED_BY = {
    "parameter": {"zh": "参数", "en": "parameter"},
    "batch": {"zh": "批次", "en": "batch"},
    "responsibility": {"zh": "责任主体条款", "en": "responsibility"},
}


def _implemented_by(item: str, lang: str) -> str:
    """An implementing item of the coverage ("ref rule-id", "ref rule-id (consequence)", "ref parameter x", "ref
    batch b", "ref responsibility") without its ref, in the page's language: a consequence by its description."""
    ref, _, rest = item.partition(" ")
    kind, _, name = rest.partition(" ")
    if kind in IMPLEMENTED_BY:
        return f"{IMPLEMENTED_BY[kind][lang]} {name}".rstrip()
    rule_id, _, consequence = rest.partition(" (")
    if not consequence:
        return rest
    try:
        found = current_app.extensions["repolicy"].registry.get(ref).rule(rule_id).consequences
    except LookupError:
        return rest
    words = next((c.description for c in found if c.type == consequence.rstrip(")") and c.description), None)
    if words is None:
        return rest
    return f"{rule_id}（法律后果：{words['zh']}）" if lang == "zh" else f"{rule_id} (consequence: {words['en']})"


def _reader() -> None:
    principal = authenticate(session_ok=True)
    if principal is None or principal.role not in ("legal", "regulator"):
        raise _Login()
    g.principal = principal


class _Login(Exception):
    pass


@bp.errorhandler(_Login)
def _to_login(_exc):
    return redirect(url_for("ui.login", next=request.full_path, lang=_lang()))


# What a refused page request is, said in the page's language (the API's code and message follow, as written).
ERROR_HEADINGS = {
    400: {"zh": "请求有误", "en": "Bad request"},
    403: {"zh": "无权执行此操作", "en": "Not allowed"},
    404: {"zh": "未找到", "en": "Not found"},
    409: {"zh": "与现有状态冲突", "en": "Conflict"},
    413: {"zh": "提交的内容过大", "en": "Too large"},
    503: {"zh": "服务暂不可用（登记数据库不可用）", "en": "Service unavailable"},
}


@bp.errorhandler(ApiError)
def _error_page(exc: ApiError):
    """A page, not the API's JSON, when a page request is refused."""
    words = ERROR_HEADINGS.get(exc.status, {"zh": "无法完成请求", "en": "The request cannot be done"})
    page = _page("error.html", title=str(exc.status), heading=words[_lang()], error=exc)
    return page, exc.status, exc.headers


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The token form; a valid token starts a session (a new one: nothing of an earlier session is kept)."""
    target = safe_next(request.args.get("next"), url_for("ui.index", lang=_lang()))
    if request.method == "POST":
        principal = principal_of_token(request.form.get("token", ""))
        if principal is not None:
            session.clear()
            session.permanent = True
            session["principal"] = principal.name
            session["key"] = token_fingerprint(token_digest(request.form["token"]))
            session["expires"] = session_clock() + current_app.permanent_session_lifetime.total_seconds()
            return redirect(target)
        return _page("login.html", title="login", failed=True), 401
    return _page("login.html", title="login", failed=False)


@bp.post("/logout")
def logout():
    """Ends the page session (the form in every page's header)."""
    session.clear()
    return redirect(url_for("ui.login", lang=_lang()))


@bp.get("/")
def index():
    _reader()
    runtime = current_app.extensions["repolicy"]
    return _page("index.html", title="", instruments=sorted(runtime.instruments.values(), key=lambda i: i.id))


def _instrument_coverage(instrument_id: str):
    """The instrument and the coverage of each of its provisions by the registered versions."""
    runtime = current_app.extensions["repolicy"]
    inst = runtime.instruments.get(instrument_id)
    if inst is None:
        raise ApiError(404, "not_found", f"no instrument {instrument_id}")
    return inst, coverage(
        inst,
        runtime.registry.all(),
        load_out_of_scope().get(instrument_id, {}),
        load_partly_implemented().get(instrument_id, {}),
        not_a_violation=load_not_a_violation().get(instrument_id),
    )


@bp.get("/instruments/<instrument_id>")
def instrument(instrument_id: str):
    _reader()
    inst, cov = _instrument_coverage(instrument_id)
    return _page(
        "instrument.html",
        title=inst.short_title[_lang()],
        inst=inst,
        provisions=list(inst.provisions.values()),
        cov=cov,
    )


@bp.get("/instruments/<instrument_id>/interpretations")
def interpretations(instrument_id: str):
    """The register of interpretations: every reading chosen where the instrument's text is open."""
    _reader()
    entries = interpretation_register(instrument_id)
    inst = current_app.extensions["repolicy"].instruments[instrument_id]
    return _page("interpretations.html", title=inst.short_title[_lang()], inst=inst, entries=entries)


@bp.get("/coverage/<instrument_id>")
def coverage_page(instrument_id: str):
    _reader()
    inst, cov = _instrument_coverage(instrument_id)
    counts = {k: 0 for k in COVERAGE_LABELS}
    for c in cov.values():
        counts[c.status] += 1
    reviews = _reviews(cov)
    review_counts: dict[str, int] = {}
    for state in reviews.values():
        review_counts[state["status"]] = review_counts.get(state["status"], 0) + 1
    chart = coverage_chart(inst.short_title["zh"], coverage_counts(cov, _interpreted(cov), reviews), _lang())
    return _page(
        "coverage.html",
        title="coverage",
        inst=inst,
        cov=cov,
        counts=counts,
        reviews=reviews,
        review_counts=review_counts,
        coverage_label=lambda code: COVERAGE_LABELS[code][_lang()],
        chart=chart,
    )


def _interpreted(cov) -> set[str]:
    """The implementing rules ("ref rule-id") that record an interpretation of the text they apply."""
    registry = current_app.extensions["repolicy"].registry
    out = set()
    for item in {item for c in cov.values() for item in c.implemented_by}:
        ref, _, rule_id = item.partition(" ")
        try:
            if registry.get(ref).rule(rule_id).interpretations:
                out.add(item)
        except LookupError:  # a parameter or a responsibility clause, not a rule
            continue
    return out


def _reviews(cov) -> dict[str, dict]:
    """Sign-off state of every rule the coverage names ("ref rule-id" -> state); empty without a database."""
    runtime = current_app.extensions["repolicy"]
    if runtime.store is None:
        return {}
    out, approvals = {}, {}
    for c in cov.values():
        for item in c.implemented_by:
            ref, _, rest = item.partition(" ")
            try:
                rs = runtime.registry.get(ref)
                r = rs.rule(rest)
            except LookupError:  # a parameter or responsibility clause, not a rule
                continue
            try:
                if rs.id not in approvals:
                    approvals[rs.id] = runtime.store.approvals(rs.id)
            except Exception:  # database unreachable: coverage is still shown
                return {}
            out[item] = review_state(rs, r, approvals[rs.id])
    return out


@bp.get("/rules/<ref>/<rule_id>")
def rule(ref: str, rule_id: str):
    _reader()
    rs, r = find_rule(ref, rule_id)
    return _rule_page(rs, r)


def _rule_page(rs, r, edit_errors: list[str] | None = None, form: dict | None = None):
    """The rule page; for a regulator with the form to change the parameters the rule reads."""
    editable = [rs.parameters[n] for n in rule_dependencies(rs, r)["parameters"] if rs.parameters[n].value is not None]
    return _page(
        "rule.html",
        title=r.title[_lang()],
        rs=rs,
        rule=r,
        view=rule_view(rs, r),
        can_approve=g.principal.role == "legal",
        can_edit=g.principal.role == "regulator",
        editable=[(p, (form or {}).get(f"param-{p.name}", shown(p))) for p in editable],
        edit_version=(form or {}).get("version", f"{rs.version}-rev"),
        edit_errors=edit_errors or [],
    )


def _regulator() -> None:
    _reader()
    if g.principal.role != "regulator":
        raise ApiError(403, "forbidden", "only the regulator role changes and activates rulesets")


@bp.post("/rules/<ref>/<rule_id>/parameters")
def edit_parameters(ref: str, rule_id: str):
    """The rule page's parameter form: a new draft version, then its page (CSRF and origin checked before)."""
    _regulator()
    rs, r = find_rule(ref, rule_id)
    form = request.form.to_dict()
    values = {k[len("param-") :]: v for k, v in form.items() if k.startswith("param-")}
    try:
        new, job_id = publish_edit(
            rs, form.get("version", "").strip(), values, g.principal.name, comment_text(form.get("comment"))
        )
    except EditError as exc:
        return _rule_page(rs, r, [exc.words[_lang()]], form), 400
    except ApiError as exc:
        if exc.status != 422:
            raise
        issues, failures = exc.extra.get("issues", ()), exc.extra.get("scenarios", ())
        details = [f"{i['file']}:{i['line']}:{i['column']}: {i['message']}" for i in issues]
        words = EDIT_REFUSALS.get(exc.code)
        headline = words[_lang()].format(n=len(issues) or len(failures)) if words else exc.message
        return _rule_page(rs, r, [headline, *details, *failures], form), 422
    return redirect(url_for("ui.draft", ref=new.ref, base=rs.ref, job=job_id, lang=_lang()))


# Why an edited ruleset was refused, as the rule's page says it (the validator's issues and the scenarios follow).
EDIT_REFUSALS = {
    "invalid_ruleset": {"zh": "修改后的规则集有 {n} 处问题", "en": "{n} problem(s) in the edited ruleset"},
    "scenarios_failed": {"zh": "规则集自身的场景有 {n} 个未通过", "en": "{n} of the ruleset's own scenarios failed"},
}


def _draft_versions(ref: str):
    registry = current_app.extensions["repolicy"].registry
    try:
        return registry.get(request.args.get("base", "")), registry.get(ref)
    except LookupError as exc:
        raise ApiError(404, "not_found", f"no ruleset version {exc.args[0]}") from None


@bp.get("/drafts/<ref>")
def draft(ref: str, error: str | None = None, limit_error: str | None = None):
    """A draft made on a rule page: the change in words, the scenarios, the impact, sign-offs, activation."""
    _reader()
    old, new = _draft_versions(ref)
    return _page(
        "draft.html",
        title=new.ref,
        old=old,
        new=new,
        job=request.args.get("job", ""),
        error=error,
        limit_error=limit_error,
        default_limit=DEFAULT_LIMIT,
        can_activate=g.principal.role == "regulator",
        **draft_page(old, new, request.args.get("job")),
    )


@bp.post("/drafts/<ref>/impact")
def draft_impact(ref: str):
    """The draft page's impact form: a new preview over the newest N recorded decisions (or all), then the page."""
    _regulator()
    _, new = _draft_versions(ref)
    limit = request.form.get("limit")
    try:
        job_id = preview_impact(new, g.principal.name, limit)
    except ApiError as exc:
        if exc.status != 400:
            raise
        return draft(ref, limit_error=(limit or "").strip()), 400
    return redirect(url_for("ui.draft", ref=ref, base=request.args.get("base"), job=job_id, lang=_lang()) + "#impact")


@bp.post("/drafts/<ref>/activate")
def activate_draft(ref: str):
    _regulator()
    _, new = _draft_versions(ref)
    try:
        activate(
            new,
            g.principal.name,
            comment_text(request.form.get("comment")),
            (request.form.get("override_reason") or "").strip(),
        )
    except ApiError as exc:
        if exc.status not in (400, 409):
            raise
        return draft(ref, _refusal(exc, new)), exc.status
    return redirect(
        url_for("ui.draft", ref=ref, base=request.args.get("base"), job=request.args.get("job"), lang=_lang())
        + "#activation"
    )


# Why an activation was refused, as the draft's page says it (the API's own message stays as it is).
REFUSALS = {
    "sign_off_required": {
        "zh": "{n} 条已修改的规则尚待法律审核（审核人须为发布人 {author} 以外的法律审核人员）；"
        "紧急情况下，监管人员可填写紧急启用理由后启用",
        "en": "{n} changed rule(s) of {ref} await sign-off by a legal reviewer other than {author}; "
        "in an emergency a regulator may activate with an override reason",
    },
    "invalid_request": {
        "zh": "紧急启用理由过长（最多2000字）",
        "en": "The override reason is too long (2,000 characters at most)",
    },
}


def _refusal(exc: ApiError, new) -> str:
    """The refusal in the page's language, with the rules awaiting sign-off after it."""
    zh = _lang() == "zh"
    rules = [u["rule"] for u in exc.extra.get("rules", ())]
    words = REFUSALS.get(exc.code)
    if words is None:  # a refusal this page has no words for: the API's message, said to be one
        return ("未启用：" if zh else "Not activated: ") + exc.message
    text = words[_lang()].format(n=len(rules), ref=new.ref, author=author_of(new))
    return text + (("：" if zh else ": ") + ", ".join(rules) if rules else "")


@bp.post("/rules/<ref>/<rule_id>/approve")
def approve(ref: str, rule_id: str):
    """The rule page's sign-off form (legal role; CSRF token and origin checked before, see bp.before_request)."""
    _reader()
    if g.principal.role != "legal":
        raise ApiError(403, "forbidden", "only the legal role signs off rules")
    rs, r = find_rule(ref, rule_id)
    sign_off(rs, r, g.principal.name, comment_text(request.form.get("comment")))
    return redirect(url_for("ui.rule", ref=ref, rule_id=rule_id, lang=_lang()) + "#review")


@bp.get("/diff")
def version_diff():
    """Two registered versions side by side: the changes in words, the rules whose meaning changed (to be
    reviewed again) and the YAML line by line."""
    _reader()
    registry = current_app.extensions["repolicy"].registry
    refs = sorted(r.ref for r in registry.all())
    old_ref, new_ref = request.args.get("old", ""), request.args.get("new", "")
    context: dict = {"refs": refs, "old_ref": old_ref, "new_ref": new_ref, "compared": False}
    if old_ref and new_ref:
        try:
            old, new = registry.get(old_ref), registry.get(new_ref)
        except LookupError as exc:
            raise ApiError(404, "not_found", f"no ruleset version {exc.args[0]}") from None
        old_rules = {r.id: r for r in old.rules}
        changed = [
            r for r in new.rules if r.id not in old_rules or rule_digest(old, old_rules[r.id]) != rule_digest(new, r)
        ]
        context.update(
            compared=True,
            old=old,
            new=new,
            lines=ruleset_diff(old, new),
            changed_rules=changed,
            yaml_lines=list(
                difflib.unified_diff(
                    old.source.splitlines(), new.source.splitlines(), old.ref, new.ref, n=2, lineterm=""
                )
            ),
        )
    return _page("diff.html", title="diff", **context)


@bp.route("/evaluate", methods=["GET", "POST"])
def evaluate():
    if not current_app.config.get("OPEN_EVALUATE"):
        principal = authenticate(session_ok=True)
        if principal is None:
            raise _Login()
    from api.evaluate import explain_unknowns
    from api.evaluate_input import InvalidEvaluateRequest, request_as_of, validate_request

    runtime = current_app.extensions["repolicy"]
    text, result, errors, unknowns, reasons = request.form.get("request", ""), None, None, None, {}
    charts: list = []
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        text = upload.read().decode("utf-8", errors="replace")
    if request.method == "POST":
        try:
            body = parse_json_text(text)
            if not isinstance(body, dict):
                raise ValueError("the request must be a JSON object")
            data = validate_request(body, current_app.config["MAX_FACTS"])
            as_of = request_as_of(data)
            result = runtime.evaluate(data["facts"], as_of, data.get("rulesets"))
            unknowns = explain_unknowns(runtime, data["facts"], as_of, result["rulesets"])
            reasons = why(runtime, data["facts"], as_of, result)
            charts = production_charts(data["facts"]) + group_charts(data["facts"])
        except (ApiError, InvalidEvaluateRequest) as exc:
            errors = exc.errors or [{"path": "$", "message": exc.message}]
        except (ValueError, LookupError) as exc:
            errors = [{"path": "$", "message": str(exc)}]
    page = _page(
        "evaluate.html",
        title="evaluate",
        request_text=text,
        result=result,
        errors=errors,
        unknowns=unknowns,
        reasons=reasons,
        charts=charts,
    )
    return page, 400 if errors else 200
