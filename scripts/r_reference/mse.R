# Reference numbers for citizendata.integrate.mse, computed in R by SparseMSE 2.0.1 and
# Rcapture (their own code, sourced from the CRAN sources; neither is in Debian).
# Get the sources with the search tool's fetch (github:cran/SparseMSE, github:cran/Rcapture)
# or `git clone https://github.com/cran/SparseMSE`, then from the repository root:
#   SPARSEMSE_SRC=/path/to/SparseMSE RCAPTURE_SRC=/path/to/Rcapture Rscript scripts/r_reference/mse.R
# (each path is a checkout with its R/ folder).  Needs lpSolve and jsonlite (Debian
# r-cran-lpsolve, r-cran-jsonlite).  Reads tests/data/mse/*.csv, writes tests/data/mse/reference_r.json.
suppressPackageStartupMessages({
  library(jsonlite)
  library(lpSolve)
})
src_sparse <- Sys.getenv("SPARSEMSE_SRC")
src_rcap <- Sys.getenv("RCAPTURE_SRC")
stopifnot(nzchar(src_sparse), nzchar(src_rcap))
source(file.path(src_sparse, "R", "routines.R"))
for (f in list.files(file.path(src_rcap, "R"), full.names = TRUE)) source(f)
dir <- file.path("tests", "data", "mse")
read <- function(name) read.csv(file.path(dir, paste0(name, ".csv")), check.names = FALSE)

terms_of <- function(z, mX) {
  # list-name pairs "A:B" of a SparseMSE mX matrix
  if (is.null(mX) || length(mX) == 0) return(character(0))
  mX <- as.matrix(mX)
  vn <- names(z)
  apply(mX, 2, function(p) paste(vn[p[1]], vn[p[2]], sep = ":"))
}
pair_matrix <- function(z, terms) {
  # SparseMSE mX from "A:B" names
  if (length(terms) == 0) return(NULL)
  vn <- names(z)
  sapply(strsplit(terms, ":"), function(p) match(p, vn))
}
fit_row <- function(z, terms) {
  mX <- pair_matrix(z, terms)
  fit <- modelfit(z, mX, check = FALSE)
  est <- estimatepopulation.0(z, method = if (is.null(mX)) "main" else "fixed", mX = mX)$estimate
  g <- fit$fit
  list(terms = terms, estimate = unname(est[2]), ci_wald_log = unname(est[c(1, 3)]),
       intercept = unname(coef(g)[1]), aic = g$aic, deviance = g$deviance,
       df = g$df.residual, empty_overlaps = colnames(fit$emptyoverlaps),
       ierr = checkident(z, if (is.null(mX)) NULL else mX))
}

out <- list(source = "SparseMSE 2.0.1 (CRAN, github.com/cran/SparseMSE) and Rcapture (github.com/cran/Rcapture), sourced; R glm",
            r_version = R.version.string, fixed = list(), stepwise = list(), checkident = list(),
            allmodels = list(), profile = list())

# fixed models: main effects, and the stepwise model, for every SparseMSE data set
for (name in c("UKdat", "UKdat_5", "NewOrl", "NewOrl_5", "Western", "Ned", "Ned_5")) {
  z <- read(name)
  sw <- stepwisefit(z, pthresh = 0.02)
  terms <- attr(terms(sw$fit), "term.labels")
  terms <- c(terms[grepl(":", terms)], colnames(sw$emptyoverlaps))
  est <- estimatepopulation.0(z, method = "stepwise", pthresh = 0.02)$estimate
  out$stepwise[[name]] <- list(terms = terms, estimate = unname(est[2]),
                               ci_wald_log = unname(est[c(1, 3)]), aic = sw$fit$aic,
                               deviance = sw$fit$deviance, df = sw$fit$df.residual)
  out$fixed[[name]] <- list(fit_row(z, character(0)), fit_row(z, terms))
}

# checkident on every model of the artificial three-list table (Chan, Silverman & Vincent, Table 2)
z <- read("Artificial_3")
all3 <- list(character(0), "A:B", "A:C", "B:C", c("A:B", "A:C"), c("A:B", "B:C"), c("A:C", "B:C"),
             c("A:B", "A:C", "B:C"))
out$checkident$Artificial_3 <- lapply(all3, function(t) {
  mX <- pair_matrix(z, t)
  list(terms = t, ierr = if (is.null(mX)) checkident(z, NULL) else checkident(z, mX))
})
# checkallmodels: the models with no (extended) MLE
for (name in c("Western", "NewOrl_5", "UKdat_5")) {
  z <- read(name)
  res <- checkallmodels(z)
  out$checkident[[name]] <- if (is.null(res)) list() else
    lapply(seq_len(nrow(res)), function(i) colnames(res)[res[i, ] == 1])
}

# Rcapture: every hierarchical model up to two-way interactions, and profile intervals
rcap_terms <- function(label, lists) {
  gens <- strsplit(gsub("\\[|\\]", "", label), ",")[[1]]
  pairs <- gens[nchar(gens) == 2]
  vapply(pairs, function(g) paste(lists[as.integer(strsplit(g, "")[[1]])], collapse = ":"), "")
}
for (name in c("rcapture_HIV", "rcapture_lesbian", "rcapture_duck")) {
  z <- read(name)
  lists <- names(z)[-ncol(z)]
  ms <- closedpMS.t(z, dfreq = TRUE, maxorder = 2, stopiflong = FALSE)
  r <- ms$results
  # the six-list table has 32,768 models: keep the 100 with the smallest BIC
  if (nrow(r) > 1000) r <- r[order(r[, "BIC"])[1:100], ]
  out$allmodels[[name]] <- lapply(seq_len(nrow(r)), function(i) list(
    terms = unname(rcap_terms(rownames(r)[i], lists)), estimate = r[i, "abundance"],
    stderr = r[i, "stderr"], deviance = r[i, "deviance"], df = r[i, "df"],
    aic = r[i, "AIC"], bic = r[i, "BIC"]))
  best <- rownames(r)[order(r[, "BIC"])[1:3]]
  out$profile[[name]] <- lapply(best, function(m) {
    ci <- closedpCI.t(z, dfreq = TRUE, mX = m)$CI
    list(terms = unname(rcap_terms(m, lists)), n_max = ci[1, 1], lower = ci[1, 2], upper = ci[1, 3])
  })
}
for (name in c("UKdat_5", "Western")) {
  # Rcapture has no empty-overlap rule: profile intervals of models whose pairs all overlap
  z <- read(name)
  lists <- names(z)[-ncol(z)]
  sw <- out$stepwise[[name]]$terms
  if (length(out$fixed[[name]][[2]]$empty_overlaps) == 0) {
    gen <- if (length(sw)) paste0("[", paste(c(vapply(strsplit(sw, ":"), function(p)
      paste(match(p, lists), collapse = ""), ""), setdiff(seq_along(lists),
      unlist(lapply(strsplit(sw, ":"), match, lists)))), collapse = ","), "]") else "[1,2,3,4,5]"
    ci <- closedpCI.t(z, dfreq = TRUE, mX = gen)$CI
    out$profile[[name]] <- list(list(terms = sw, n_max = ci[1, 1], lower = ci[1, 2], upper = ci[1, 3]))
  }
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = 1),
           file.path(dir, "reference_r.json"))
cat("wrote", file.path(dir, "reference_r.json"), "\n")
