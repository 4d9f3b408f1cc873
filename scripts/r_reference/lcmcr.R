# Reference numbers for citizendata.integrate.mse._mcmc (tests/test_mse_lcmcr_mcmc.py).
#
# Reads the chains written by scripts/r_reference/lcmcr_chains.py (tests/data/lcmcr/chains_*.csv,
# one column per chain) and writes tests/data/lcmcr/diagnostics_reference.csv with, per file:
#   coda::gelman.diag(autoburnin = FALSE)  point estimate and upper limit (Brooks-Gelman PSRF)
#   coda::effectiveSize(mcmc.list)         AR spectral ESS summed over chains
#   posterior::rhat                        rank-normalised split R-hat (Vehtari et al. 2021)
#   posterior::ess_bulk                    (recorded for comparison; not what we report)
# Run from the repository root:  Rscript scripts/r_reference/lcmcr.R
# Needs: apt-get install -y r-base-core r-cran-coda r-cran-posterior
suppressPackageStartupMessages({library(coda); library(posterior)})
dir <- "tests/data/lcmcr"
rows <- list()
for (name in c("kosovo", "ar1", "shifted")) {
  x <- as.matrix(read.csv(file.path(dir, paste0("chains_", name, ".csv"))))
  chains <- mcmc.list(lapply(seq_len(ncol(x)), function(j) mcmc(x[, j])))
  g <- gelman.diag(chains, autoburnin = FALSE)$psrf
  rows[[name]] <- data.frame(
    chains = name,
    psrf = g[1, 1], psrf_upper = g[1, 2],
    ess_coda = unname(effectiveSize(chains)),
    rhat_rank = rhat(x),             # iterations x chains matrix, as posterior expects
    ess_bulk = ess_bulk(x))
}
out <- do.call(rbind, rows)
write.csv(out, file.path(dir, "diagnostics_reference.csv"), row.names = FALSE)
print(out, digits = 10)
cat("R", R.version$major, ".", R.version$minor, " coda ", as.character(packageVersion("coda")),
    " posterior ", as.character(packageVersion("posterior")), "\n", sep = "")
