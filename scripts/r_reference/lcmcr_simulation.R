# Posterior quantiles of N under R's LCMCR for the 20 simulated two-class tables in
# tests/data/lcmcr/sim_tables.csv (N = 400; written by scripts/r_reference/lcmcr_chains.py).
# Writes tests/data/lcmcr/sim_lcmcr_r.csv: rep, lo (2.5%), mid (median), hi (97.5%).
# Settings: K = 10, a_alpha = b_alpha = 0.25, burn-in 10,000, 2,000 draws thinned by 50,
# seed rep + 1.
# Run from the repository root:  Rscript scripts/r_reference/lcmcr_simulation.R
# Needs R's LCMCR (0.4.14) installed, with the GNU Scientific Library.
suppressPackageStartupMessages(library(LCMCR))
stopifnot(as.character(packageVersion("LCMCR")) == "0.4.14")
d <- read.csv("tests/data/lcmcr/sim_tables.csv")
out <- NULL
for (r in sort(unique(d$rep))) {
  x <- d[d$rep == r & d$count > 0, c("A", "B", "C", "D", "count")]
  names(x)[5] <- "Freq"
  for (v in c("A", "B", "C", "D")) x[[v]] <- factor(x[[v]], levels = c(0, 1))
  s <- lcmCR(captures = x, tabular = TRUE, K = 10, a_alpha = 0.25, b_alpha = 0.25,
             seed = r + 1, buffer_size = 10000, thinning = 100, verbose = FALSE)
  N <- lcmCR_PostSampl(s, burnin = 10000, samples = 2000, thinning = 50, output = FALSE)
  out <- rbind(out, data.frame(rep = r, lo = unname(quantile(N, 0.025)), mid = median(N),
                               hi = unname(quantile(N, 0.975))))
}
write.csv(out, "tests/data/lcmcr/sim_lcmcr_r.csv", row.names = FALSE)
print(out)
cat("intervals covering N = 400:", sum(out$lo <= 400 & out$hi >= 400), "of", nrow(out), "\n")
