# Reference posterior of N for the Kosovo table under R's LCMCR (Manrique-Vallier), to check
# citizendata.integrate.mse.lcmcr (tests/test_mse_lcmcr.py). Settings of the package's own
# example (K = 10, a_alpha = b_alpha = 0.25, burn-in 10,000, 1,000 draws thinned by 100),
# run with 8 seeds; writes tests/data/lcmcr/kosovo_lcmcr_r.csv (every draw, by seed) and
# prints the pooled quantiles.
# Run from the repository root:  Rscript scripts/r_reference/lcmcr_kosovo.R
# Needs R's LCMCR (0.4.14) installed, with the GNU Scientific Library.
suppressPackageStartupMessages(library(LCMCR))
stopifnot(as.character(packageVersion("LCMCR")) == "0.4.14")
data(kosovo_aggregate)
draws <- list()
for (seed in 1:8) {
  sampler <- lcmCR(captures = kosovo_aggregate, tabular = FALSE, in_list_label = "1",
                   not_in_list_label = "0", K = 10, a_alpha = 0.25, b_alpha = 0.25,
                   seed = seed, buffer_size = 10000, thinning = 100, verbose = FALSE)
  N <- lcmCR_PostSampl(sampler, burnin = 10000, samples = 1000, thinning = 100, output = FALSE)
  draws[[seed]] <- data.frame(seed = seed, N = N)
  print(c(seed = seed, quantile(N, c(0.025, 0.5, 0.975))))
}
out <- do.call(rbind, draws)
write.csv(out, "tests/data/lcmcr/kosovo_lcmcr_r.csv", row.names = FALSE)
print(quantile(out$N, c(0.025, 0.5, 0.975)))
