# Reference numbers for citizendata.integrate.nonprob, computed in R with the survey package.
# Run from the repository root:  Rscript scripts/r_reference/nonprob.R
# Reads tests/data/r_reference/nonprob_citizen.csv and nonprob_dhs.csv (the Kenya scenario's
# citizen sample and DHS-like survey, default seed) and writes nonprob.json.
# No R package for these estimators is available here (nonprobsvy is not in Debian), so the
# estimators are written out in R from the papers: the outcome model by glm(), the survey's
# part of every variance by svymean()/svytotal() on svydesign(ids = ~ea_id, strata = ~ward),
# the propensity by Newton's method on the pseudo-score of Chen, Li & Wu (2020).
suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
})
stopifnot(as.character(packageVersion("survey")) == "4.1.1")
dir <- file.path("tests", "data", "r_reference")
a <- read.csv(file.path(dir, "nonprob_citizen.csv"), stringsAsFactors = FALSE)
b <- read.csv(file.path(dir, "nonprob_dhs.csv"), stringsAsFactors = FALSE)
for (v in c("ward", "age_group", "disability_status")) {
  lv <- sort(union(a[[v]], b[[v]]))
  a[[v]] <- factor(a[[v]], levels = lv)
  b[[v]] <- factor(b[[v]], levels = lv)
}
f <- ~ ward + age_group + disability_status
xa <- model.matrix(f, a)
xb <- model.matrix(f, b)
d <- b$weight
y <- a$skilled
des <- svydesign(ids = ~ea_id, strata = ~ward, weights = ~weight, data = b, nest = TRUE)
total_var <- function(z) {
  # the survey's design variance of sum(d * z)
  d2 <- update(des, zz = z)
  unname(vcov(svytotal(~zz, d2))[1, 1])
}

# the survey alone
alone <- svymean(~skilled, des)

# propensity: Newton on U(theta) = sum_A x - sum_B d pi x
theta <- c(log(nrow(a) / (sum(d) - nrow(a))), rep(0, ncol(xa) - 1))
for (it in 1:100) {
  pb <- plogis(drop(xb %*% theta))
  score <- colSums(xa) - colSums(xb * (d * pb))
  info <- crossprod(xb, xb * (d * pb * (1 - pb)))
  step <- solve(info, score)
  theta <- theta + step
  if (max(abs(step)) < 1e-12) break
}
pa <- plogis(drop(xa %*% theta))
pb <- plogis(drop(xb %*% theta))
h_mat <- crossprod(xb, xb * (d * pb * (1 - pb)))

n_a <- sum(1 / pa)
ipw <- sum(y / pa) / n_a
bv <- solve(h_mat, colSums(xa * ((1 / pa - 1) * (y - ipw))))
v1 <- sum((1 - pa) * ((y - ipw) / pa - drop(xa %*% bv))^2) / n_a^2
v2 <- total_var(pb * drop(xb %*% bv) / n_a)
ipw_se <- sqrt(v1 + v2)

# outcome model: logistic regression on the citizen sample
fit <- glm(update(f, skilled ~ .), family = binomial, data = a)
ma <- fitted(fit)
mb <- drop(plogis(xb %*% coef(fit)))

# mass imputation
mi_fit <- svymean(~m, update(des, m = mb))
mi <- unname(coef(mi_fit)[1])
g <- colSums(xb * (d * mb * (1 - mb))) / sum(d)
kappa <- drop(xa %*% solve(crossprod(xa, xa * (ma * (1 - ma))), g))
mi_se <- sqrt(unname(vcov(mi_fit)[1, 1]) + sum((kappa * (y - ma))^2))

# doubly robust
e <- y - ma
h <- sum(e / pa) / n_a
n_b <- sum(d)
mbar <- sum(d * mb) / n_b
dr <- h + mbar
bd <- solve(h_mat, colSums(xa * ((1 / pa - 1) * (e - h))))
w1 <- sum((1 - pa) * ((e - h) / pa - drop(xa %*% bd))^2) / n_a^2
w2 <- total_var(pb * drop(xb %*% bd) / n_a + (mb - mbar) / n_b)
dr_se <- sqrt(w1 + w2)

out <- list(
  survey_alone = list(value = unname(coef(alone)[1]), se = unname(SE(alone)[1])),
  naive = list(value = mean(y), se = sd(y) / sqrt(length(y))),
  ipw = list(value = ipw, se = ipw_se),
  dr = list(value = dr, se = dr_se),
  mi = list(value = mi, se = mi_se),
  propensity_range = range(pa),
  newton_iterations = it
)
write_json(out, file.path(dir, "nonprob.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)
cat(toJSON(out, digits = 10, auto_unbox = TRUE, pretty = TRUE), "\n")
