# Reference numbers for estimates through the product (Client.estimate with a declared design),
# from R's survey package on its api data. Run from the repository root:
#   Rscript scripts/r_reference/product.R
# Writes tests/data/r_reference/product.json and the microdata product_*.csv it uses.
# The test suite (tests/test_estimate_design_r.py) reads these files and never needs R.
suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
})
stopifnot(as.character(packageVersion("survey")) == "4.1.1")
out_dir <- file.path("tests", "data", "r_reference")
data(api)
EPS <- 1e-13
MAXIT <- 500

one <- function(est, des) {
  ci <- confint(est, df = degf(des))
  list(value = unname(coef(est)[1]), se = unname(SE(est)[1]),
       ci_low = unname(ci[1, 1]), ci_high = unname(ci[1, 2]), df = degf(des))
}
by_list <- function(b) {
  lv <- as.character(b[[1]])
  vals <- unname(coef(b)); ses <- unname(SE(b))
  setNames(lapply(seq_along(lv), function(i) list(value = vals[i], se = ses[i])), lv)
}
ciprop <- function(des) {
  ci <- svyciprop(~I(sch.wide == "Yes"), des, method = "logit", df = degf(des))
  list(value = unname(as.numeric(ci)), ci_low = unname(attr(ci, "ci")[1]),
       ci_high = unname(attr(ci, "ci")[2]), df = degf(des))
}
summarise <- function(des) {
  list(
    mean_api00 = one(svymean(~api00, des), des),
    total_enroll = one(svytotal(~enroll, des, na.rm = TRUE), des),
    prop_sch_wide_yes = one(svymean(~I(as.numeric(sch.wide == "Yes")), des), des),
    ciprop_sch_wide_yes = ciprop(des),
    domain_mean_api00_by_stype = by_list(svyby(~api00, ~stype, des, svymean)),
    domain_prop_sch_wide_yes_by_stype =
      by_list(svyby(~I(as.numeric(sch.wide == "Yes")), ~stype, des, svymean))
  )
}

N <- nrow(apipop)
pop_stype <- table(apipop$stype)
pop_sw <- table(apipop$sch.wide)
st_vec <- c(`(Intercept)` = N, stypeH = unname(pop_stype["H"]), stypeM = unname(pop_stype["M"]))
sw_vec <- c(`(Intercept)` = N, sch.wideYes = unname(pop_sw["Yes"]))
st_sw_vec <- c(st_vec, sch.wideYes = unname(pop_sw["Yes"]))

# 1. apiclus1: one-stage cluster sample of districts
clus <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1)
clus_fpc <- svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1)
clus_rak <- calibrate(clus, ~stype, population = st_vec, calfun = "raking", epsilon = EPS,
                      maxit = MAXIT)
clus_ps <- postStratify(clus, ~stype, data.frame(stype = names(pop_stype),
                                                  Freq = as.numeric(pop_stype)))
clus_fpc_rak <- calibrate(clus_fpc, ~stype, population = st_vec, calfun = "raking",
                          epsilon = EPS, maxit = MAXIT)
jk <- as.svrepdesign(clus, type = "JK1")
jk_rak <- calibrate(jk, ~stype, population = st_vec, calfun = "raking", epsilon = EPS,
                    maxit = MAXIT)
# continuous auxiliaries: GREG on enrolment (with the intercept), with school type, and the
# ratio estimator (enrolment alone, no intercept, working variance proportional to it)
pop_enroll <- sum(apipop$enroll, na.rm = TRUE)
enroll_by_stype <- aggregate(enroll ~ stype, apipop, sum)
clus_greg <- calibrate(clus, ~enroll, population = c(`(Intercept)` = N, enroll = pop_enroll))
clus_greg_stype <- calibrate(clus, ~stype + enroll, population = c(st_vec, enroll = pop_enroll))
clus_ratio <- calibrate(clus, ~enroll - 1, population = pop_enroll, variance = apiclus1$enroll)
# 2. apistrat: stratified by school type, with fpc; raked to sch.wide
strat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = apistrat)
strat_rak <- calibrate(strat, ~sch.wide, population = sw_vec, calfun = "raking",
                       epsilon = EPS, maxit = MAXIT)
strat_jkn <- as.svrepdesign(svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat),
                            type = "JKn")
# 3. apiclus2: two-stage cluster sample (districts, then schools) with fpc at both stages
clus2 <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, weights = ~pw, data = apiclus2)
# 4. lonely PSU: apiclus1 stratified by a made-up stratum where district 716 is alone
lonely <- apiclus1
lonely$str <- ifelse(lonely$dnum == 716, "b", ifelse(lonely$dnum < 400, "a", "c"))
lonely_res <- list()
for (opt in c("remove", "certainty", "adjust", "average")) {
  options(survey.lonely.psu = opt)
  des <- svydesign(id = ~dnum, strata = ~str, weights = ~pw, data = lonely)
  lonely_res[[opt]] <- one(svymean(~api00, des), des)
}
options(survey.lonely.psu = "fail")
# lonely PSUs in domains: apistrat stratified by county (many counties have one school),
# "average", school type as the domain; svyby counts only the strata present in a domain
options(survey.lonely.psu = "average")
strat_cnum <- svydesign(id = ~1, strata = ~cnum, weights = ~pw, data = apistrat)
county_average <- list(mean_api00 = one(svymean(~api00, strat_cnum), strat_cnum),
                       domain_mean_api00_by_stype = by_list(svyby(~api00, ~stype, strat_cnum,
                                                                  svymean)))
options(survey.lonely.psu = "fail")

keep <- function(df, cols) { x <- df[, cols]; names(x) <- gsub(".", "_", names(x), fixed = TRUE); x }
write.csv(keep(lonely, c("snum", "dnum", "str", "stype", "sch.wide", "pw", "fpc", "api00", "enroll")),
          file.path(out_dir, "product_apiclus1.csv"), row.names = FALSE)
write.csv(keep(apistrat, c("snum", "cnum", "stype", "sch.wide", "pw", "fpc", "api00", "enroll")),
          file.path(out_dir, "product_apistrat.csv"), row.names = FALSE)
write.csv(keep(apiclus2, c("snum", "dnum", "stype", "sch.wide", "pw", "fpc1", "fpc2", "api00",
                           "enroll")),
          file.path(out_dir, "product_apiclus2.csv"), row.names = FALSE)

ref <- list(
  generated_by = "scripts/r_reference/product.R",
  r_version = R.version.string,
  survey_version = as.character(packageVersion("survey")),
  note = "Intervals: confint(df = degf(design)); svyciprop(method = 'logit', df = degf(design)).",
  population = list(N = N, stype = as.list(pop_stype), sch_wide = as.list(pop_sw),
                    enroll = pop_enroll,
                    enroll_by_stype = as.list(setNames(enroll_by_stype$enroll,
                                                       as.character(enroll_by_stype$stype)))),
  apiclus1_greg = list(design = "calibrate(clus, ~enroll, c(N, total enroll))",
                       results = summarise(clus_greg)),
  apiclus1_greg_stype = list(design = "calibrate(clus, ~stype+enroll, c(N, stype, enroll))",
                             results = summarise(clus_greg_stype)),
  apiclus1_ratio = list(design = "calibrate(clus, ~enroll-1, total enroll, variance=enroll)",
                        results = summarise(clus_ratio)),
  apiclus1 = list(design = "svydesign(id=~dnum, weights=~pw)", results = summarise(clus)),
  apiclus1_fpc = list(design = "svydesign(id=~dnum, weights=~pw, fpc=~fpc)",
                      results = summarise(clus_fpc)),
  apiclus1_raked = list(design = "calibrate(clus, ~stype, calfun='raking')",
                        results = summarise(clus_rak)),
  apiclus1_poststratified = list(design = "postStratify(clus, ~stype)",
                                 results = summarise(clus_ps)),
  apiclus1_fpc_raked = list(design = "calibrate(clus_fpc, ~stype, calfun='raking')",
                            results = summarise(clus_fpc_rak)),
  apiclus1_jk1_raked = list(design = "calibrate(as.svrepdesign(clus, 'JK1'), ~stype, raking)",
                            results = summarise(jk_rak)),
  apistrat = list(design = "svydesign(id=~1, strata=~stype, weights=~pw, fpc=~fpc)",
                  results = summarise(strat)),
  apistrat_raked = list(design = "calibrate(strat, ~sch.wide, calfun='raking')",
                        results = summarise(strat_rak)),
  apistrat_jkn = list(design = "as.svrepdesign(svydesign(id=~1, strata=~stype, weights=~pw), 'JKn')",
                      results = summarise(strat_jkn)),
  apiclus2 = list(design = "svydesign(id=~dnum+snum, fpc=~fpc1+fpc2, weights=~pw)", results = summarise(clus2)),
  apistrat_county_average = list(design = "svydesign(id=~1, strata=~cnum, weights=~pw); lonely.psu='average'",
                                 results = county_average),
  apiclus1_lonely = list(design = "svydesign(id=~dnum, strata=~str, weights=~pw); 716 alone in b",
                         results = lonely_res)
)
write(toJSON(ref, auto_unbox = TRUE, digits = I(17), pretty = TRUE),
      file.path(out_dir, "product.json"))
cat("wrote", file.path(out_dir, "product.json"), "\n")
