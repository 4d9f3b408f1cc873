# Reference numbers for citizendata.stats.variance, from R's survey package.
# Run from the repository root:  Rscript scripts/r_reference/variance.R
# Writes tests/data/r_reference/variance.json and the var_*.csv microdata it uses.
# The test suite reads these files and never needs R.
suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
})
stopifnot(as.character(packageVersion("survey")) == "4.1.1")
out_dir <- file.path("tests", "data", "r_reference")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
data(api)
# tight raking convergence so the exported weights are exact far beyond the test tolerance
EPS <- 1e-13
MAXIT <- 500

se1 <- function(est) unname(sqrt(diag(as.matrix(vcov(est))))[1])
one <- function(est) list(value = unname(coef(est)[1]), se = se1(est))
by_list <- function(b) {
  # svyby result -> {level: {value, se}}
  lv <- as.character(b[[1]])
  vals <- unname(coef(b)); ses <- unname(SE(b))
  setNames(lapply(seq_along(lv), function(i) list(value = vals[i], se = ses[i])), lv)
}
ratio1 <- function(r) list(value = unname(coef(r)[1]), se = unname(sqrt(r$var[1, 1])))

# population margins (apipop has 6194 schools)
N <- nrow(apipop)
pop_stype <- table(apipop$stype)
pop_sw <- table(apipop$sch.wide)
margins <- data.frame(
  variable = c(rep("stype", length(pop_stype)), rep("sch_wide", length(pop_sw))),
  category = c(names(pop_stype), names(pop_sw)),
  population = c(as.numeric(pop_stype), as.numeric(pop_sw))
)
write.csv(margins, file.path(out_dir, "var_apipop_margins.csv"), row.names = FALSE)
pop_stype_vec <- c(`(Intercept)` = N, stypeH = unname(pop_stype["H"]), stypeM = unname(pop_stype["M"]))
pop_sw_st_vec <- c(pop_stype_vec, sch.wideYes = unname(pop_sw["Yes"]))

summarise <- function(des, with_ratio = TRUE, with_count = TRUE) {
  r <- list(
    mean_api00 = one(svymean(~api00, des)),
    total_enroll = one(svytotal(~enroll, des)),
    prop_sch_wide_yes = one(svymean(~I(as.numeric(sch.wide == "Yes")), des)),
    domain_mean_api00_by_stype = by_list(svyby(~api00, ~stype, des, svymean)),
    domain_prop_sch_wide_yes_by_stype =
      by_list(svyby(~I(as.numeric(sch.wide == "Yes")), ~stype, des, svymean))
  )
  if (with_ratio) r$ratio_api00_enroll <- ratio1(svyratio(~api00, ~enroll, des))
  if (with_count) r$count_stype_E <- one(svytotal(~I(as.numeric(stype == "E")), des))
  ci <- svyciprop(~I(sch.wide == "Yes"), des, method = "logit", df = Inf)
  r$ciprop_logit_sch_wide_yes <- list(value = unname(as.numeric(ci)),
                                      ci_low = unname(attr(ci, "ci")[1]),
                                      ci_high = unname(attr(ci, "ci")[2]))
  r
}

# 1. apiclus1: one-stage cluster sample of districts, with replacement (no fpc)
clus <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1)
clus_lin <- calibrate(clus, ~stype, population = pop_stype_vec, calfun = "linear")
clus_rak <- calibrate(clus, ~stype, population = pop_stype_vec, calfun = "raking",
                      epsilon = EPS, maxit = MAXIT)
# 3. apistrat as if unstratified (id = ~1), raked to stype and sch.wide
strat <- svydesign(id = ~1, weights = ~pw, data = apistrat)
strat_rak <- calibrate(strat, ~stype + sch.wide, population = pop_sw_st_vec, calfun = "raking",
                      epsilon = EPS, maxit = MAXIT)
strat_lin <- calibrate(strat, ~stype + sch.wide, population = pop_sw_st_vec, calfun = "linear")

export <- function(df, designs, file, cluster) {
  x <- data.frame(
    id = seq_len(nrow(df)), cluster = df[[cluster]], pw = df$pw, api00 = df$api00,
    enroll = df$enroll, stype = as.character(df$stype), sch_wide = as.character(df$sch.wide)
  )
  for (nm in names(designs)) x[[nm]] <- weights(designs[[nm]])
  write.csv(x, file.path(out_dir, file), row.names = FALSE)
}
export(apiclus1, list(w_linear = clus_lin, w_raking = clus_rak), "var_apiclus1.csv", "dnum")
apistrat$one <- seq_len(nrow(apistrat))
export(apistrat, list(w_linear = strat_lin, w_raking = strat_rak), "var_apistrat.csv", "one")

# 4. binomial intervals: Clopper-Pearson (binom.test) and Wilson (prop.test, no correction)
cases <- list(c(0, 10), c(10, 10), c(3, 20), c(45, 100), c(1, 1000), c(17, 29), c(999, 1000))
binom <- lapply(cases, function(xn) {
  lv <- if (xn[2] == 29) 0.90 else 0.95
  cp <- binom.test(xn[1], xn[2], conf.level = lv)$conf.int
  wi <- suppressWarnings(prop.test(xn[1], xn[2], conf.level = lv, correct = FALSE)$conf.int)
  list(x = xn[1], n = xn[2], level = lv, clopper_pearson = as.numeric(cp), wilson = as.numeric(wi))
})

ref <- list(
  generated_by = "scripts/r_reference/variance.R",
  r_version = R.version.string,
  survey_version = as.character(packageVersion("survey")),
  note = paste("SEs are with-replacement (no fpc); calibrated designs use survey::calibrate",
               "(stage-0 greg_calibration residuals in svyrecvar). svyciprop uses df=Inf (normal quantile)."),
  apiclus1 = list(design = "svydesign(id=~dnum, weights=~pw, data=apiclus1)", results = summarise(clus)),
  apiclus1_cal_linear = list(design = "calibrate(clus, ~stype, pop, calfun='linear')",
                             results = summarise(clus_lin)),
  apiclus1_cal_raking = list(design = "calibrate(clus, ~stype, pop, calfun='raking')",
                             results = summarise(clus_rak)),
  apistrat_srs = list(design = "svydesign(id=~1, weights=~pw, data=apistrat)", results = summarise(strat)),
  apistrat_cal_raking = list(design = "calibrate(strat, ~stype+sch.wide, pop, calfun='raking')",
                             results = summarise(strat_rak)),
  apistrat_cal_linear = list(design = "calibrate(strat, ~stype+sch.wide, pop, calfun='linear')",
                             results = summarise(strat_lin)),
  binomial = binom,
  population = list(N = N, stype = as.list(pop_stype), sch_wide = as.list(pop_sw))
)
write(toJSON(ref, auto_unbox = TRUE, digits = I(17), pretty = TRUE), file.path(out_dir, "variance.json"))
cat("wrote", file.path(out_dir, "variance.json"), "\n")
