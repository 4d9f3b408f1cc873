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

# ---- 3. continuous auxiliaries (calibrate.json "continuous"): R's own ?calibrate examples ----
# apiclus1 and apistrat with the numeric columns the examples use
num_cols <- c("snum", "dnum", "stype", "sch.wide", "pw", "fpc", "api00", "api99", "enroll",
              "api.stu")
write.csv(apiclus1[, num_cols], file.path(out_dir, "apiclus1_numeric.csv"), row.names = FALSE)
write.csv(apistrat[, num_cols], file.path(out_dir, "apistrat_numeric.csv"), row.names = FALSE)

est <- function(x) list(estimate = unname(coef(x)), se = unname(SE(x)))
summ_num <- function(des, ratio = FALSE) {
  w <- weights(des)
  out <- list(weights = unname(w), sum = sum(w), g_min = NA, g_max = NA,
              mean_api00 = est(svymean(~api00, des)),
              total_api00 = est(svytotal(~api00, des)),
              total_enroll = est(svytotal(~enroll, des)),
              total_api_stu = est(svytotal(~api.stu, des)))
  out
}
grange <- function(des, base) {
  g <- weights(des) / weights(base)
  c(min(g), max(g))
}

pop_totals <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018)
api99_total <- sum(apipop$api99)
stopifnot(api99_total == 3914069)
pop_g3 <- c(pop_totals, api99 = api99_total)
# the same design with and without the fpc: citizendata's domain_estimate has no fpc, and
# for one stage the fpc multiplies the variance by 1 - n/N
dclus1_nofpc <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1)
greg <- list()
for (with_fpc in c(TRUE, FALSE)) {
  des <- if (with_fpc) dclus else dclus1_nofpc
  key <- if (with_fpc) "fpc" else "no_fpc"
  g3 <- calibrate(des, ~stype + api99, pop_g3)                        # GREG (linear)
  g3b <- calibrate(des, ~stype + api99, pop_g3, bounds = c(0.6, 1.6),  # truncated linear
                   epsilon = EPS, maxit = MAXIT)
  g3b2 <- calibrate(des, ~stype + api99, pop_g3, bounds = c(0.7, 1.7),
                    epsilon = EPS, maxit = MAXIT)
  g3c <- calibrate(des, ~stype + api99, pop_g3, calfun = "raking",     # generalised raking
                   epsilon = EPS, maxit = MAXIT)
  g3d <- calibrate(des, ~stype + api99, pop_g3, calfun = cal.logit,    # logit
                   bounds = c(0.5, 2.5), epsilon = EPS, maxit = MAXIT)
  g3e <- calibrate(des, ~stype + api99, pop_g3, calfun = "raking",     # truncated raking
                   bounds = c(0.7, 1.7), epsilon = EPS, maxit = MAXIT)
  greg[[key]] <- list(
    design = summ_num(des),
    linear = summ_num(g3),
    linear_bounded_0.6_1.6 = c(summ_num(g3b), list(g_range = grange(g3b, des))),
    linear_bounded_0.7_1.7 = c(summ_num(g3b2), list(g_range = grange(g3b2, des))),
    raking = summ_num(g3c),
    logit_0.5_2.5 = c(summ_num(g3d), list(g_range = grange(g3d, des))),
    raking_bounded_0.7_1.7 = c(summ_num(g3e), list(g_range = grange(g3e, des)))
  )
}
linear_unbounded_range <- grange(calibrate(dclus, ~stype + api99, pop_g3), dclus)

# the ratio estimator: calibrate on enroll alone, no intercept, variance proportional to
# enroll (variance=1 in R means q = mm %*% 1 = enroll); and svyratio's prediction
pop_enroll <- 3811472
stopifnot(sum(apipop$enroll, na.rm = TRUE) == pop_enroll)
dstrat_nostrata <- svydesign(id = ~1, weights = ~pw, data = apistrat)
ratio <- list()
for (key in c("strata_fpc", "no_strata")) {
  des <- if (key == "strata_fpc") dstrat else dstrat_nostrata
  r1 <- calibrate(des, ~enroll - 1, pop_enroll, variance = 1)
  rh <- calibrate(des, ~enroll - 1, pop_enroll, variance = apistrat$enroll)
  common <- svyratio(~api.stu, ~enroll, des, separate = FALSE)
  pr <- predict(common, total = pop_enroll)
  # no variance: q = 1, the regression through the origin with weights d
  r0 <- calibrate(des, ~enroll - 1, pop_enroll)
  ratio[[key]] <- list(
    design = summ_num(des),
    variance_1 = summ_num(r1),
    variance_enroll = summ_num(rh),
    variance_none = summ_num(r0),
    svyratio_predict = list(estimate = unname(drop(pr$total)), se = unname(drop(pr$se)))
  )
}

res$continuous <- list(
  apiclus1 = list(
    n = nrow(apiclus1), design_weight_column = "pw", cluster = "dnum",
    fpc_factor = 1 - 15 / 757,
    population = as.list(pop_g3),
    stype = as_named(pop_stype),
    api99 = api99_total,
    linear_unbounded_g_range = linear_unbounded_range,
    fpc = greg$fpc,
    no_fpc = greg$no_fpc
  ),
  apistrat = list(
    n = nrow(apistrat), design_weight_column = "pw", strata = "stype",
    enroll = pop_enroll,
    strata_fpc = ratio$strata_fpc,
    no_strata = ratio$no_strata
  )
)

writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(out_dir, "calibrate.json"))
cat("wrote", file.path(out_dir, "calibrate.json"), "\n")
