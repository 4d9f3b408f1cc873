# Reference numbers for citizendata.survey (declared designs, linearised variance), from
# R's survey package, on its documented 'api' examples.
# Run from the repository root:  Rscript scripts/r_reference/design.R
# Writes tests/data/r_reference/design.json and the design_*.csv files it uses; the
# tests read those files and never need R. Every estimate is in the shape of
# citizendata's SurveyResult.to_dict(): variable, statistic, by, estimate, se, ci, df.
suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
})
stopifnot(as.character(packageVersion("survey")) == "4.1.1")
out_dir <- file.path("tests", "data", "r_reference")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
data(api)
options(survey.lonely.psu = "fail", survey.adjust.domain.lonely = FALSE)

cols <- c("snum", "dnum", "stype", "sch.wide", "awards", "comp.imp", "pw", "fpc", "api00",
          "api99", "enroll", "api.stu")
write.csv(apisrs[, cols], file.path(out_dir, "design_apisrs.csv"), row.names = FALSE)
write.csv(apistrat[, cols], file.path(out_dir, "design_apistrat.csv"), row.names = FALSE)
write.csv(apiclus1[, cols], file.path(out_dir, "design_apiclus1.csv"), row.names = FALSE)
write.csv(apiclus2[, c("snum", "dnum", "stype", "sch.wide", "pw", "fpc1", "fpc2", "api00",
                       "api99", "enroll")], file.path(out_dir, "design_apiclus2.csv"),
          row.names = FALSE)
# a stratified sample whose E stratum keeps one school: a lonely PSU
lonely <- apistrat[!(apistrat$stype == "E" & apistrat$snum != apistrat$snum[apistrat$stype == "E"][1]), ]
write.csv(lonely[, cols], file.path(out_dir, "design_lonely.csv"), row.names = FALSE)
# population tables for post-stratification and raking (category column(s) and total)
N <- nrow(apipop)
pop_stype <- data.frame(stype = names(table(apipop$stype)), total = as.vector(table(apipop$stype)))
pop_sw <- data.frame(sch.wide = names(table(apipop$sch.wide)),
                     total = as.vector(table(apipop$sch.wide)))
write.csv(pop_stype, file.path(out_dir, "design_pop_stype.csv"), row.names = FALSE)
write.csv(pop_sw, file.path(out_dir, "design_pop_schwide.csv"), row.names = FALSE)
tot_api99 <- sum(apipop$api99)
tot_enroll <- sum(apipop$enroll, na.rm = TRUE)

rec <- function(variable, statistic, est, se, ci, df, by = NULL) {
  list(variable = variable, statistic = statistic, by = if (is.null(by)) setNames(list(), character(0)) else by,
       estimate = unname(est), se = unname(se), ci = unname(as.numeric(ci)), df = df)
}
one <- function(des, variable, statistic, fn, na.rm = FALSE) {
  f <- as.formula(paste0("~", variable))
  e <- fn(f, des, na.rm = na.rm)
  rec(variable, statistic, coef(e)[1], SE(e)[1], confint(e, df = degf(des))[1, ], degf(des))
}
prop <- function(des, variable, value) {
  f <- as.formula(sprintf("~I(%s == '%s')", variable, value))
  e <- svyciprop(f, des, method = "logit", df = degf(des))
  rec(variable, "proportion", as.numeric(e), SE(e), attr(e, "ci"), degf(des))
}
dom <- function(des, variable, statistic, by, fn) {
  b <- svyby(as.formula(paste0("~", variable)), as.formula(paste0("~", by)), des, fn,
             na.rm = TRUE)
  ci <- confint(b, df = degf(des))
  lapply(seq_len(nrow(b)), function(i) rec(variable, statistic, coef(b)[i], SE(b)[i], ci[i, ],
                                            degf(des), setNames(list(as.character(b[[1]][i])), by)))
}
dom_prop <- function(des, variable, value, by) {
  f <- as.formula(sprintf("~I(%s == '%s')", variable, value))
  b <- svyby(f, as.formula(paste0("~", by)), des, svyciprop, method = "logit", df = degf(des),
             vartype = c("se", "ci"))
  lapply(seq_len(nrow(b)), function(i) rec(variable, "proportion", coef(b)[i], SE(b)[i],
                                            c(b$ci_l[i], b$ci_u[i]), degf(des),
                                            setNames(list(as.character(b[[1]][i])), by)))
}
standard <- function(des, by = "stype", total = "enroll", na.rm = FALSE) {
  c(list(one(des, "api00", "mean", svymean),
         one(des, total, "total", svytotal, na.rm = na.rm),
         prop(des, "sch.wide", "Yes")),
    dom(des, "api00", "mean", by, svymean),
    dom(des, total, "total", by, svytotal),
    dom_prop(des, "sch.wide", "Yes", by))
}
case <- function(call, des, estimates) list(design = call, df = degf(des), estimates = estimates)

cases <- list()
srs <- svydesign(id = ~1, fpc = ~fpc, data = apisrs)
cases$apisrs <- case("svydesign(id=~1, fpc=~fpc, data=apisrs)", srs, standard(srs))
strat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = apistrat)
cases$apistrat <- case("svydesign(id=~1, strata=~stype, weights=~pw, fpc=~fpc, data=apistrat)",
                       strat, standard(strat, by = "comp.imp"))
clus1 <- svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1)
cases$apiclus1 <- case("svydesign(id=~dnum, weights=~pw, fpc=~fpc, data=apiclus1)", clus1,
                       standard(clus1))
clus1wr <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1)
cases$apiclus1_wr <- case("svydesign(id=~dnum, weights=~pw, data=apiclus1)", clus1wr,
                          standard(clus1wr))
clus2 <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2)
cases$apiclus2 <- case("svydesign(id=~dnum+snum, fpc=~fpc1+fpc2, data=apiclus2)", clus2,
                       standard(clus2, na.rm = TRUE))
clus2w <- svydesign(id = ~dnum + snum, weights = ~pw, data = apiclus2)
cases$apiclus2_weights <- case("svydesign(id=~dnum+snum, weights=~pw, data=apiclus2)", clus2w,
                               list(one(clus2w, "api00", "mean", svymean),
                                    one(clus2w, "enroll", "total", svytotal, na.rm = TRUE)))
# second stage with replacement (fpc2 = Inf): PSUs with one school are lonely at stage 2
apiclus2$inf <- Inf
for (o in c("remove", "certainty")) {
  options(survey.lonely.psu = o)
  d <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + inf, weights = ~pw, data = apiclus2)
  cases[[paste0("apiclus2_fpc1_", o)]] <- case(
    sprintf("svydesign(id=~dnum+snum, fpc=~fpc1+inf, weights=~pw, data=apiclus2), lonely.psu=%s", o),
    d, list(one(d, "api00", "mean", svymean)))
}
# lonely PSU: one school in stratum E
for (o in c("remove", "certainty", "adjust", "average")) {
  options(survey.lonely.psu = o)
  d <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = lonely)
  cases[[paste0("lonely_", o)]] <- case(
    sprintf("svydesign(id=~1, strata=~stype, weights=~pw, data=lonely), lonely.psu=%s", o), d,
    c(list(one(d, "api00", "mean", svymean), one(d, "enroll", "total", svytotal),
           prop(d, "sch.wide", "Yes")), dom(d, "api00", "mean", "comp.imp", svymean)))
}
# with the fpc the lonely stratum E is sampled in full (population 1): no variance, no failure
options(survey.lonely.psu = "fail")
lonely_fpc <- lonely
lonely_fpc$fpc[lonely_fpc$stype == "E"] <- 1
d <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = lonely_fpc)
cases$lonely_fpc_certain <- case("lonely with fpc=1 in stratum E", d,
                                 list(one(d, "api00", "mean", svymean)))

# post-stratification and raking of the one-stage cluster sample
ps <- postStratify(clus1, ~stype, data.frame(stype = pop_stype$stype, Freq = pop_stype$total))
cases$apiclus1_poststratify <- case("postStratify(clus1, ~stype, pop_stype)", ps, standard(ps, by = "sch.wide"))
# the issue's motivating case: the raked mean of api00 has SE 23.70 under the cluster design
rk <- rake(clus1, list(~stype, ~sch.wide),
           list(data.frame(stype = pop_stype$stype, Freq = pop_stype$total),
                data.frame(sch.wide = pop_sw$sch.wide, Freq = pop_sw$total)),
           control = list(maxit = 500, epsilon = 1e-13))
cases$apiclus1_rake <- case("rake(clus1, list(~stype, ~sch.wide), list(pop_stype, pop_sw))",
                            rk, standard(rk))
popv <- c(`(Intercept)` = N, stypeH = pop_stype$total[2], stypeM = pop_stype$total[3],
          sch.wideYes = pop_sw$total[2])
ck <- calibrate(clus1, ~stype + sch.wide, popv, calfun = "raking", epsilon = 1e-13, maxit = 500)
cases$apiclus1_calibrate_raking <- case("calibrate(clus1, ~stype+sch.wide, pop, calfun='raking')",
                                        ck, standard(ck))
# calibration with a continuous auxiliary: GREG, ratio, bounded
g1 <- calibrate(strat, ~stype + api99, c(`(Intercept)` = N, stypeH = pop_stype$total[2],
                                          stypeM = pop_stype$total[3], api99 = tot_api99))
cases$apistrat_greg <- case("calibrate(strat, ~stype+api99, pop)", g1, standard(g1, by = "comp.imp"))
g2 <- calibrate(clus1, ~api99, c(`(Intercept)` = N, api99 = tot_api99))
cases$apiclus1_greg <- case("calibrate(clus1, ~api99, c(N, api99))", g2, standard(g2))
r1 <- calibrate(strat, ~api99 - 1, tot_api99, variance = 1)
cases$apistrat_ratio <- case("calibrate(strat, ~api99-1, total, variance=1)", r1, standard(r1, by = "comp.imp"))
b1 <- calibrate(clus1, ~stype + api99, c(`(Intercept)` = N, stypeH = pop_stype$total[2],
                                          stypeM = pop_stype$total[3], api99 = tot_api99),
                bounds = c(0.7, 1.7), epsilon = 1e-12, maxit = 500)
cases$apiclus1_bounded <- case("calibrate(clus1, ~stype+api99, pop, bounds=c(0.7,1.7))", b1, standard(b1))

# replicate weights: JK1 raked (each replicate raked), JKn with the fpc, BRR and Fay's BRR on
# R's paired-design example (scd: two ambulances per emergency service area)
rj <- rake(as.svrepdesign(clus1wr, type = "JK1"), list(~stype, ~sch.wide),
           list(data.frame(stype = pop_stype$stype, Freq = pop_stype$total),
                data.frame(sch.wide = pop_sw$sch.wide, Freq = pop_sw$total)),
           control = list(maxit = 500, epsilon = 1e-13))
cases$apiclus1_jk1_rake <- case("rake(as.svrepdesign(clus1wr, type='JK1'), list(~stype, ~sch.wide), ...)",
                                rj, standard(rj))
# JK1 with the fpc: as.svrepdesign passes the (single) population size to jk1weights
rj1 <- as.svrepdesign(clus1, type = "JK1")
cases$apiclus1_jk1_fpc <- case("as.svrepdesign(svydesign(id=~dnum, weights=~pw, fpc=~fpc, data=apiclus1), type='JK1')",
                               rj1, standard(rj1))
# a stratum taken whole (f_h = 1, districts below 400 all sampled): linearised, degf counts
# it; as JKn replicates, its replicates are dropped and degf (rank - 1) leaves it out
cert <- apiclus1
cert$str <- ifelse(cert$dnum < 400, "a", "b")
cert$N <- ifelse(cert$str == "a", length(unique(cert$dnum[cert$str == "a"])), 757)
certd <- svydesign(id = ~dnum, strata = ~str, weights = ~pw, fpc = ~N, data = cert)
cases$apiclus1_certainty <- case("svydesign(id=~dnum, strata=~str, fpc=~N): stratum a whole",
                                 certd, list(one(certd, "api00", "mean", svymean)))
certj <- as.svrepdesign(certd, type = "JKn")
cases$apiclus1_certainty_jkn <- case("as.svrepdesign(certd, type='JKn')", certj,
                                     list(one(certj, "api00", "mean", svymean)))
rn <- as.svrepdesign(strat, type = "JKn")
cases$apistrat_jkn <- case("as.svrepdesign(strat, type='JKn')", rn, standard(rn, by = "comp.imp"))
# a survey that ships its own replicate weights: apiclus1 with JK1 columns repw1..repw15
own <- cbind(apiclus1[, cols], setNames(as.data.frame(weights(as.svrepdesign(clus1wr, type = "JK1"), "analysis")),
                                        paste0("repw", 1:15)))
write.csv(own, file.path(out_dir, "design_apiclus1_repw.csv"), row.names = FALSE)
od <- svrepdesign(data = own, repweights = "repw[0-9]+", weights = ~pw, type = "JK1",
                  combined.weights = TRUE)
cases$apiclus1_own_jk1 <- case("svrepdesign(data=own, repweights='repw[0-9]+', weights=~pw, type='JK1')",
                               od, standard(od))
ro <- rake(od, list(~stype, ~sch.wide),
           list(data.frame(stype = pop_stype$stype, Freq = pop_stype$total),
                data.frame(sch.wide = pop_sw$sch.wide, Freq = pop_sw$total)),
           control = list(maxit = 500, epsilon = 1e-13))
cases$apiclus1_own_jk1_rake <- case("rake(svrepdesign(... own JK1 columns ...), list(~stype, ~sch.wide), ...)",
                                    ro, standard(ro))
data(scd)
write.csv(scd, file.path(out_dir, "design_scd.csv"), row.names = FALSE)
scddes <- svydesign(data = scd, prob = ~1, id = ~ambulance, strata = ~ESA, nest = TRUE)
scd_est <- function(des) list(one(des, "arrests", "total", svytotal), one(des, "alive", "total", svytotal),
                              one(des, "arrests", "mean", svymean))
scdbrr <- as.svrepdesign(scddes, type = "BRR")
cases$scd_brr <- case("as.svrepdesign(svydesign(data=scd, prob=~1, id=~ambulance, strata=~ESA, nest=TRUE), type='BRR')",
                      scdbrr, scd_est(scdbrr))
scdfay <- as.svrepdesign(scddes, type = "Fay", fay.rho = 0.3)
cases$scd_fay <- case("as.svrepdesign(scddes, type='Fay', fay.rho=0.3)", scdfay, scd_est(scdfay))
cases$scd_linear <- case("svydesign(data=scd, prob=~1, id=~ambulance, strata=~ESA, nest=TRUE)",
                         scddes, scd_est(scddes))

ref <- list(
  generated_by = "scripts/r_reference/design.R",
  r_version = R.version.string,
  survey_version = as.character(packageVersion("survey")),
  note = paste("confint(..., df=degf(design)); svyciprop(method='logit', df=degf(design));",
               "domains by svyby with the full design's degrees of freedom;",
               "options survey.lonely.psu per case, survey.adjust.domain.lonely=FALSE."),
  population = list(N = N, api99 = tot_api99, enroll = tot_enroll),
  cases = cases
)
write(toJSON(ref, auto_unbox = TRUE, digits = I(17), pretty = TRUE, null = "null"),
      file.path(out_dir, "design.json"))
cat("wrote", file.path(out_dir, "design.json"), "\n")
