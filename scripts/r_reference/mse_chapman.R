# Reference numbers for Chapman's two-list estimator (citizendata.integrate.mse.chapman),
# computed by CARE1's own R code (Chao et al. 2001; github.com/cran/CARE1, sourced; CARE1 is
# not in Debian).  From the repository root:
#   CARE1_SRC=/path/to/CARE1 Rscript scripts/r_reference/mse_chapman.R
# Reads tests/data/mse/care1_HAV.csv (three lists), writes tests/data/mse/reference_chapman.json:
# CARE1's estN.pair (Petersen, Chapman, its s.e. and Chao's log-transformed 95% interval)
# for every pair of lists.
suppressPackageStartupMessages(library(jsonlite))
src <- Sys.getenv("CARE1_SRC")
stopifnot(nzchar(src))
for (f in list.files(file.path(src, "R"), full.names = TRUE)) source(f)
h <- read.csv(file.path("tests", "data", "mse", "care1_HAV.csv"))
# CARE1 wants the counts in the order of its pattern names 001, 010, ..., 111 (list 1 first)
key <- apply(h[, 1:3], 1, paste, collapse = "")
z <- setNames(rep(0, 7), c("001", "010", "011", "100", "101", "110", "111"))
z[key] <- h$count
res <- estN.pair(z)
out <- lapply(rownames(res), function(r) {
  ij <- as.integer(strsplit(sub("pa", "", r), "")[[1]])
  list(lists = names(h)[ij], petersen = res[r, "Petersen"], chapman = res[r, "Chapman"],
       se = res[r, "se"], lower = res[r, "cil"], upper = res[r, "ciu"])
})
writeLines(toJSON(list(source = "CARE1 (github.com/cran/CARE1) estN.pair, sourced",
                       pairs = out), auto_unbox = TRUE, digits = NA, pretty = 1),
           file.path("tests", "data", "mse", "reference_chapman.json"))
