# Reference numbers for citizendata.survey.replicates, from R's survey package.
# Run from the repository root:  Rscript scripts/r_reference/replicates.R
# (PYTHON, default .venv/bin/python or python3, with citizendata importable from src/, writes
# our bootstrap replicate weights first; R reads them back with svrepdesign.)
# Writes tests/data/r_reference/replicates.json and the rep_*.csv(.gz) files it uses.
# The test suite reads these files and never needs R.
suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
})
stopifnot(as.character(packageVersion("survey")) == "4.1.1")
out_dir <- file.path("tests", "data", "r_reference")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
data(api)
data(scd)
EPS <- 1e-13
MAXIT <- 500

se1 <- function(est) unname(sqrt(diag(as.matrix(vcov(est))))[1])
one <- function(est) list(value = unname(coef(est)[1]), se = se1(est))
by_list <- function(b) {
  lv <- as.character(b[[1]])
  vals <- unname(coef(b)); ses <- unname(SE(b))
  setNames(lapply(seq_along(lv), function(i) list(value = vals[i], se = ses[i])), lv)
}
summarise <- function(des) list(
  mean_api00 = one(svymean(~api00, des)),
  total_enroll = one(svytotal(~enroll, des)),
  prop_sch_wide_yes = one(svymean(~I(as.numeric(sch.wide == "Yes")), des)),
  domain_mean_api00_by_stype = by_list(svyby(~api00, ~stype, des, svymean)),
  domain_total_enroll_by_sch_wide = by_list(svyby(~enroll, ~sch.wide, des, svytotal))
)
repinfo <- function(des) list(type = des$type, scale = des$scale, rscales = unname(des$rscales),
                              mse = des$mse, replicates = ncol(weights(des, "analysis")))
write_weights <- function(des, file) {
  W <- weights(des, "analysis")
  colnames(W) <- paste0("r", seq_len(ncol(W)))
  con <- gzfile(file.path(out_dir, file), "w")
  write.csv(format(W, digits = 17), con, row.names = FALSE, quote = FALSE)
  close(con)
}

# population margins (apipop has 6194 schools)
pop_stype <- data.frame(stype = c("E", "H", "M"), Freq = as.numeric(table(apipop$stype)))
pop_sw <- data.frame(sch.wide = c("No", "Yes"), Freq = as.numeric(table(apipop$sch.wide)))

# the microdata the tests use
keep <- function(df) data.frame(id = seq_len(nrow(df)), dnum = df$dnum, stype = as.character(df$stype),
                                sch_wide = as.character(df$sch.wide), pw = df$pw, fpc = df$fpc,
                                api00 = df$api00, enroll = df$enroll)
write.csv(keep(apiclus1), file.path(out_dir, "rep_apiclus1.csv"), row.names = FALSE)
write.csv(keep(apistrat), file.path(out_dir, "rep_apistrat.csv"), row.names = FALSE)
write.csv(scd, file.path(out_dir, "rep_scd.csv"), row.names = FALSE)

# 1. JK1 on the cluster sample apiclus1; raked and post-stratified per replicate
dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1)
jk1 <- as.svrepdesign(dclus1, type = "JK1")
jk1_mse <- as.svrepdesign(dclus1, type = "JK1", mse = TRUE)
jk1_fpc <- as.svrepdesign(svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1), type = "JK1")
jk1_ps <- postStratify(jk1, ~stype, pop_stype)
jk1_rake <- rake(jk1, list(~stype, ~sch.wide), list(pop_stype, pop_sw),
                 control = list(maxit = MAXIT, epsilon = EPS))
write_weights(jk1, "rep_jk1_apiclus1.csv.gz")
write_weights(jk1_rake, "rep_jk1_raked_apiclus1.csv.gz")
write_weights(jk1_ps, "rep_jk1_poststrat_apiclus1.csv.gz")

# 2. JKn on the stratified sample apistrat, without and with the fpc
dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat)
dstrat_fpc <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = apistrat)
jkn <- as.svrepdesign(dstrat, type = "JKn")
jkn_fpc <- as.svrepdesign(dstrat_fpc, type = "JKn")
jkn_rake <- rake(jkn, list(~sch.wide), list(pop_sw), control = list(maxit = MAXIT, epsilon = EPS))
write_weights(jkn, "rep_jkn_apistrat.csv.gz")

# 3. BRR and Fay's BRR on the paired design scd (3 strata of 2 ambulances)
scdnofpc <- svydesign(data = scd, prob = ~1, id = ~ambulance, strata = ~ESA, nest = TRUE)
brr <- as.svrepdesign(scdnofpc, type = "BRR")
fay <- as.svrepdesign(scdnofpc, type = "Fay", fay.rho = 0.3)
write_weights(brr, "rep_brr_scd.csv.gz")
write_weights(fay, "rep_fay_scd.csv.gz")
scd_sum <- function(des) list(mean_alive = one(svymean(~alive, des)),
                              total_arrests = one(svytotal(~arrests, des)),
                              ratio_alive_arrests = list(
                                value = unname(coef(svyratio(~alive, ~arrests, des))[1]),
                                se = unname(sqrt(svyratio(~alive, ~arrests, des)$var[1, 1]))))
# R's documented example: BRR replicate weights given as multipliers
repweights <- 2 * cbind(c(1, 0, 1, 0, 1, 0), c(1, 0, 0, 1, 0, 1), c(0, 1, 1, 0, 0, 1), c(0, 1, 0, 1, 1, 0))
scdrep <- svrepdesign(data = scd, type = "BRR", repweights = repweights, combined.weights = FALSE)
write.csv(data.frame(scd, setNames(as.data.frame(repweights), paste0("rw", 1:4))),
          file.path(out_dir, "rep_scd_repweights.csv"), row.names = FALSE)

# 4. R's Hadamard matrices (brrweights uses hadamard(number of strata))
had_n <- c(1:40, 43, 44, 47, 50, 55, 59, 60, 63, 64, 71, 80, 99, 100, 127, 128, 150, 200)
had <- lapply(had_n, function(n) list(n = n, rows = apply(survey:::hadamard(n), 1, paste, collapse = "")))

# 5. Our bootstrap replicate weights, exported by citizendata, read back with svrepdesign
write(toJSON(list(stype = setNames(as.list(pop_stype$Freq), pop_stype$stype),
                  sch_wide = setNames(as.list(pop_sw$Freq), pop_sw$sch.wide)), auto_unbox = TRUE,
             digits = NA), file.path(out_dir, "rep_population.json"))
export_py <- r"---(
import json, sys
sys.path.insert(0, "src")
import numpy as np, pandas as pd
from citizendata.stats.calibrate import Margin, calibrate
from citizendata.survey.replicates import bootstrap, recalibrate_margins
out = "tests/data/r_reference/"
pop = json.load(open(out + "rep_population.json"))
margins = [Margin(("stype",), {(k,): v for k, v in pop["stype"].items()}),
           Margin(("sch_wide",), {(k,): v for k, v in pop["sch_wide"].items()})]
meta = []
def export(name, df, rep, full, seed):
    frame = pd.concat([df[["id", "stype", "sch_wide", "api00", "enroll"]]
                       .rename(columns={"sch_wide": "sch.wide"}),
                       pd.DataFrame({"weight": full}), rep.to_frame("repw")], axis=1)
    frame.to_csv(out + name, index=False, float_format="%.17g",
                 compression={"method": "gzip", "mtime": 0})  # the same bytes on every run
    info = rep.metadata("repw", "weight")
    for long in ("stata", "replicate_columns"):  # one entry per replicate: not needed here
        info.pop(long)
    meta.append({"file": name, "seed": seed, "metadata": info})
strat = pd.read_csv(out + "rep_apistrat.csv", keep_default_na=False)
clus = pd.read_csv(out + "rep_apiclus1.csv", keep_default_na=False)
codes = lambda s: pd.factorize(s)[0]
rep = bootstrap(strat.pw, codes(strat.stype), strat.id, replicates=200, seed=18)
export("rep_boot_apistrat.csv.gz", strat, rep, strat.pw, 18)
rep = bootstrap(strat.pw, codes(strat.stype), strat.id, replicates=50, seed=7, mse=True)
export("rep_boot_mse_apistrat.csv.gz", strat, rep, strat.pw, 7)
rep = bootstrap(clus.pw, None, clus.dnum, replicates=200, seed=18)
export("rep_boot_apiclus1.csv.gz", clus, rep, clus.pw, 18)
raked = recalibrate_margins(rep, clus, margins)
full = calibrate(clus, margins, design_weights=clus.pw.to_numpy(float), tol=1e-13).weights
export("rep_boot_raked_apiclus1.csv.gz", clus, raked, full, 18)
json.dump(meta, open(out + "rep_boot_meta.json", "w"), indent=1)
)---"
python <- Sys.getenv("PYTHON", if (file.exists(".venv/bin/python")) ".venv/bin/python" else "python3")
stopifnot(system2(python, c("-c", shQuote(export_py))) == 0)
boot_meta <- fromJSON(file.path(out_dir, "rep_boot_meta.json"), simplifyVector = FALSE)
boot <- lapply(boot_meta, function(m) {
  d <- read.csv(file.path(out_dir, m$file))
  eval(parse(text = m$metadata$r))
  list(r_call = m$metadata$r, results = summarise(des))
})

ref <- list(
  generated_by = "scripts/r_reference/replicates.R",
  r_version = R.version.string,
  survey_version = as.character(packageVersion("survey")),
  note = paste("Replicate designs from as.svrepdesign (mse = FALSE unless said); rake() and",
               "postStratify() on an svrepdesign re-calibrate every replicate. Weight matrices are",
               "weights(des, 'analysis') in rep_*.csv.gz."),
  jk1_apiclus1 = list(design = "as.svrepdesign(svydesign(id=~dnum, weights=~pw, data=apiclus1), type='JK1')",
                      replicates = repinfo(jk1), results = summarise(jk1)),
  jk1_mse_apiclus1 = list(design = "as.svrepdesign(dclus1, type='JK1', mse=TRUE)",
                          replicates = repinfo(jk1_mse), results = summarise(jk1_mse)),
  jk1_fpc_apiclus1 = list(design = "as.svrepdesign(svydesign(id=~dnum, weights=~pw, fpc=~fpc, data=apiclus1), type='JK1')",
                          replicates = repinfo(jk1_fpc), results = summarise(jk1_fpc)),
  jk1_poststrat_apiclus1 = list(design = "postStratify(jk1, ~stype, pop_stype)",
                                replicates = repinfo(jk1_ps), results = summarise(jk1_ps)),
  jk1_raked_apiclus1 = list(design = "rake(jk1, list(~stype, ~sch.wide), list(pop_stype, pop_sw))",
                            replicates = repinfo(jk1_rake), results = summarise(jk1_rake)),
  jkn_apistrat = list(design = "as.svrepdesign(svydesign(id=~1, strata=~stype, weights=~pw, data=apistrat), type='JKn')",
                      replicates = repinfo(jkn), results = summarise(jkn)),
  jkn_fpc_apistrat = list(design = "as.svrepdesign(svydesign(id=~1, strata=~stype, weights=~pw, fpc=~fpc, data=apistrat), type='JKn')",
                          replicates = repinfo(jkn_fpc), results = summarise(jkn_fpc)),
  jkn_raked_apistrat = list(design = "rake(jkn, list(~sch.wide), list(pop_sw))",
                            replicates = repinfo(jkn_rake), results = summarise(jkn_rake)),
  brr_scd = list(design = "as.svrepdesign(svydesign(data=scd, prob=~1, id=~ambulance, strata=~ESA, nest=TRUE), type='BRR')",
                 replicates = repinfo(brr), results = scd_sum(brr)),
  fay_scd = list(design = "as.svrepdesign(scdnofpc, type='Fay', fay.rho=0.3)",
                 replicates = repinfo(fay), results = scd_sum(fay)),
  scd_repweights = list(design = "svrepdesign(data=scd, type='BRR', repweights=2*cbind(...), combined.weights=FALSE)",
                        replicates = repinfo(scdrep), results = scd_sum(scdrep)),
  bootstrap_export = boot,
  population = list(stype = setNames(as.list(pop_stype$Freq), pop_stype$stype),
                    sch_wide = setNames(as.list(pop_sw$Freq), pop_sw$sch.wide)),
  hadamard = had
)
write(toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path(out_dir, "replicates.json"))
cat("wrote", file.path(out_dir, "replicates.json"), "\n")
