# The five benchmark rules in Rego (evaluated by regopy, rego-cpp), for bench/evaluate.py.
# Input: the request's enterprises, allocations and reports as they are, plus what Python
# precomputes as for bare-durable: production totals per enterprise/year/activity (totals:
# [{k, e, y, v}]), quota totals by the same key (quota: {k: total}), due dates of the 2021
# monthly group reports by period (due: {period: "YYYY-MM-DD"}) and as_of (today).
# ISO dates compare as strings.
package bench

import rego.v1

notice_date := "2021-08-24"

capacity_floor_t := 2000

violations contains ["quota.over-production", t.e, t.y] if {
	some t in input.totals
	t.v > input.quota[t.k]
}

violations contains ["quota.production-without-quota", t.e, t.y] if {
	some t in input.totals
	not input.quota[t.k]
	t.v > 0
}

small_smelters contains e.id if {
	some e in input.enterprises
	e.separation_capacity_t_reo < capacity_floor_t
}

violations contains ["eligibility.smelter-ineligible", a.enterprise, "2021"] if {
	some a in input.allocations
	a.year == 2021
	a.activity == "smelting_separation"
	small_smelters[a.enterprise]
}

violations contains ["reporting.group-monthly-late", r.reporter, r.period] if {
	some r in input.reports
	r.level == "group"
	due := input.due[r.period]
	due > notice_date
	r.submitted_on != null
	r.submitted_on > due
}

violations contains ["reporting.group-monthly-missing", r.reporter, r.period] if {
	some r in input.reports
	r.level == "group"
	due := input.due[r.period]
	due > notice_date
	r.submitted_on == null
	due < input.today
}
