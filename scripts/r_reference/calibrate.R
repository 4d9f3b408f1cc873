#!/usr/bin/env Rscript
# Reference numbers for tests/test_calibrate.py, from R's survey package.
#
# Run once from the repository root:
#     Rscript scripts/r_reference/calibrate.R
# It writes tests/data/r_reference/{apistrat,apiclus1,apipop_cells}.csv and
# calibrate.json. The test suite reads those files and never needs R.
#
# Data: the 'api' datasets shipped with survey (California Department of
# Education Academic Performance Index, public data).

suppressMessages({
  library(survey)
  library(jsonlite)
})
stopifnot(as.character(packageVersion("survey")) == "4.1.1")
data(api)

out_dir <- file.path("tests", "data", "r_reference")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

# tight convergence so that the recorded weights are exact to far better than
# the 1e-6 relative tolerance of the Python comparison
EPS <- 1e-13
MAXIT <- 500

strat_cols <- c("snum", "stype", "sch.wide", "awards", "pw", "fpc", "api00")
clus_cols <- c("snum", "dnum", "stype", "sch.wide", "awards", "pw", "fpc", "api00")
write.csv(apistrat[, strat_cols], file.path(out_dir, "apistrat.csv"), row.names = FALSE)
write.csv(apiclus1[, clus_cols], file.path(out_dir, "apiclus1.csv"), row.names = FALSE)

# the population as a census-style table: one row per cell with a count
cells <- as.data.frame(table(stype = apipop$stype, sch.wide = apipop$sch.wide,
                             awards = apipop$awards))
names(cells)[names(cells) == "Freq"] <- "population"
write.csv(cells, file.path(out_dir, "apipop_cells.csv"), row.names = FALSE)

summ <- function(des) {
  w <- weights(des)
  n <- length(w)
  list(
    weights = unname(w),
    sum = sum(w),
    min = min(w),
    max = max(w),
    mean = mean(w),
    median = median(w),
    kish_deff = n * sum(w^2) / sum(w)^2,
    mean_api00 = unname(coef(svymean(~api00, des))),
    total_api00 = unname(coef(svytotal(~api00, des)))
  )
}

as_named <- function(tab) {
  # a 1-d or 2-d table -> list of category label -> count; 2-d labels "a|b"
  if (length(dim(tab)) == 1) {
    v <- as.numeric(tab)
    names(v) <- names(tab)
  } else {
    g <- expand.grid(dimnames(tab), stringsAsFactors = FALSE)
    v <- as.numeric(tab)
    names(v) <- apply(g, 1, paste, collapse = "|")
  }
  as.list(v)
}

# ---- 1. apistrat: stratified design, margins stype and sch.wide ----
dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc)
pop_stype <- table(stype = apipop$stype)
pop_sw <- table(sch.wide = apipop$sch.wide)
N <- nrow(apipop)
pop_strat <- c(`(Intercept)` = N, stypeH = pop_stype[["H"]], stypeM = pop_stype[["M"]],
               sch.wideYes = pop_sw[["Yes"]])

strat_rake <- calibrate(dstrat, ~stype + sch.wide, pop_strat, calfun = "raking",
                        epsilon = EPS, maxit = MAXIT)
strat_lin <- calibrate(dstrat, ~stype + sch.wide, pop_strat, calfun = "linear")
strat_logit <- calibrate(dstrat, ~stype + sch.wide, pop_strat, calfun = "logit",
                         bounds = c(0.5, 2), epsilon = EPS, maxit = MAXIT)
# truncated linear: bounds that bind for some units
strat_tlin <- calibrate(dstrat, ~stype + sch.wide, pop_strat, calfun = "linear",
                        bounds = c(0.7, 1.3), epsilon = EPS, maxit = MAXIT)

# ---- 1b. apistrat ignoring the strata: equal weights N/n, margins stype, sch.wide
# and awards. The g-weights spread widely (0.33 to 1.48 for linear), so bounds bind.
apistrat$w0 <- N / nrow(apistrat)
deq <- svydesign(id = ~1, weights = ~w0, data = apistrat)
pop_aw <- table(awards = apipop$awards)
pop_eq <- c(pop_strat, awardsYes = pop_aw[["Yes"]])
eq_rake <- calibrate(deq, ~stype + sch.wide + awards, pop_eq, calfun = "raking",
                     epsilon = EPS, maxit = MAXIT)
eq_lin <- calibrate(deq, ~stype + sch.wide + awards, pop_eq, calfun = "linear")
eq_logit <- calibrate(deq, ~stype + sch.wide + awards, pop_eq, calfun = "logit",
                      bounds = c(0.45, 1.5), epsilon = EPS, maxit = MAXIT)
eq_tlin <- calibrate(deq, ~stype + sch.wide + awards, pop_eq, calfun = "linear",
                     bounds = c(0.45, 1.5), epsilon = EPS, maxit = MAXIT)
# logit bounds (0.6, 1.5) are infeasible: R stops with "Calibration failed"
infeasible <- tryCatch({
  calibrate(deq, ~stype + sch.wide + awards, pop_eq, calfun = "logit",
            bounds = c(0.6, 1.5), epsilon = EPS, maxit = MAXIT)
  "converged"
}, error = function(e) conditionMessage(e), warning = function(w) conditionMessage(w))

# ---- 2. apiclus1: cluster design, margins stype and stype x awards ----
dclus <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc)
pop_sa <- table(stype = apipop$stype, awards = apipop$awards)
clus_rake <- calibrate(dclus, list(~stype, ~stype + awards), list(pop_stype, pop_sa),
                       calfun = "raking", epsilon = EPS, maxit = MAXIT)
clus_lin <- calibrate(dclus, list(~stype, ~stype + awards), list(pop_stype, pop_sa),
                      calfun = "linear")
# margins stype x awards and sch.wide: not nested, so raking and linear differ
clus2_rake <- calibrate(dclus, list(~stype + awards, ~sch.wide), list(pop_sa, pop_sw),
                        calfun = "raking", epsilon = EPS, maxit = MAXIT)
clus2_lin <- calibrate(dclus, list(~stype + awards, ~sch.wide), list(pop_sa, pop_sw),
                       calfun = "linear")

res <- list(
  r_version = R.version.string,
  survey_version = as.character(packageVersion("survey")),
  epsilon = EPS,
  apistrat = list(
    n = nrow(apistrat),
    design_weight_column = "pw",
    margins = list(stype = as_named(pop_stype), sch.wide = as_named(pop_sw)),
    design = summ(dstrat),
    raking = summ(strat_rake),
    linear = summ(strat_lin),
    logit_0.5_2 = summ(strat_logit),
    linear_bounded_0.7_1.3 = summ(strat_tlin)
  ),
  apistrat_equal = list(
    n = nrow(apistrat),
    design_weight = N / nrow(apistrat),
    margins = list(stype = as_named(pop_stype), sch.wide = as_named(pop_sw),
                   awards = as_named(pop_aw)),
    design = summ(deq),
    raking = summ(eq_rake),
    linear = summ(eq_lin),
    logit_0.45_1.5 = summ(eq_logit),
    linear_bounded_0.45_1.5 = summ(eq_tlin),
    logit_0.6_1.5_infeasible = infeasible
  ),
  apiclus1 = list(
    n = nrow(apiclus1),
    design_weight_column = "pw",
    margins = list(stype = as_named(pop_stype), `stype x awards` = as_named(pop_sa)),
    design = summ(dclus),
    raking = summ(clus_rake),
    linear = summ(clus_lin)
  ),
  apiclus1_joint_schwide = list(
    n = nrow(apiclus1),
    design_weight_column = "pw",
    margins = list(`stype x awards` = as_named(pop_sa), sch.wide = as_named(pop_sw)),
    raking = summ(clus2_rake),
    linear = summ(clus2_lin)
  )
)
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(out_dir, "calibrate.json"))
cat("wrote", file.path(out_dir, "calibrate.json"), "\n")
