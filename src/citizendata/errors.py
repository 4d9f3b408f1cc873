"""The coded error catalogue shared by the library, the CLI and the API.

Every error has a stable ``code`` (never renamed once released), says *where*
(file, sheet, row, column, field, position), *which rule* failed and *how to fix
it*. Several problems found in one input travel together in ``problems`` so a
user sees all of them at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

__all__ = [
    "CATALOGUE",
    "BadInput",
    "CitizenDataError",
    "Conflict",
    "ErrorSpec",
    "Forbidden",
    "Gone",
    "NotFound",
    "PayloadTooLarge",
    "Problem",
    "ServerMisconfigured",
    "TooManyRequests",
    "Unauthenticated",
    "UnsupportedMediaType",
    "Where",
]


@dataclass(frozen=True)
class Where:
    """Where a problem is: any subset of file, sheet, row, column, field, position."""

    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    field: str | None = None
    position: int | None = None
    instance_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Only the parts that are set."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def __str__(self) -> str:
        parts = [f"{k} {v!r}" if isinstance(v, str) else f"{k} {v}" for k, v in self.to_dict().items()]
        return ", ".join(parts)


@dataclass(frozen=True)
class Problem:
    """One problem found in an input; many of them may make up one error."""

    code: str
    message: str
    where: Where | None = None
    rule: str | None = None
    fix: str | None = None

    def __post_init__(self) -> None:
        # a problem without its own fix gets the catalogue's advice for its code
        if self.fix is None and self.code in CATALOGUE:
            object.__setattr__(self, "fix", CATALOGUE[self.code].fix or None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.where is not None:
            out["where"] = self.where.to_dict()
        if self.rule:
            out["rule"] = self.rule
        if self.fix:
            out["fix"] = self.fix
        return out

    def __str__(self) -> str:
        loc = f" [{self.where}]" if self.where and self.where.to_dict() else ""
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"{self.code}{loc}: {self.message}{fix}"


@dataclass(frozen=True)
class ErrorSpec:
    """A catalogue entry: the stable code, its class, a title and the default fix."""

    code: str
    kind: str
    title: str
    fix: str = ""


# The catalogue: stable codes. Add new codes, never rename or reuse old ones.
_SPECS: tuple[ErrorSpec, ...] = (
    # authentication and permissions
    ErrorSpec("auth.unauthenticated", "Unauthenticated", "Authentication required",
              "Log in, or send an API token as 'Authorization: Bearer <token>'."),
    ErrorSpec("auth.invalid_credentials", "Unauthenticated", "Wrong user name or password",
              "Check the user name and password."),
    ErrorSpec("auth.invalid_token", "Unauthenticated", "The API token is unknown or revoked",
              "Create a new token with 'citizendata users token'."),
    ErrorSpec("auth.forbidden", "Forbidden", "Your role does not allow this",
              "Ask a project owner or manager for a role that allows it."),
    ErrorSpec("auth.too_many_attempts", "TooManyRequests", "Too many failed log-ins",
              "Wait the number of seconds given, then try again."),
    ErrorSpec("auth.csrf", "Forbidden", "The form has expired",
              "Reload the page and submit the form again."),
    ErrorSpec("auth.not_admin", "Forbidden", "Only a site administrator can do this",
              "Ask a site administrator."),
    # not found
    ErrorSpec("not_found.project", "NotFound", "No such project",
              "Check the project's slug; you may not be a member of it."),
    ErrorSpec("not_found.form", "NotFound", "No such form", "Check the form id."),
    ErrorSpec("not_found.form_version", "NotFound", "No such form version",
              "List the form's versions."),
    ErrorSpec("not_found.form_attachment", "NotFound", "No such form attachment",
              "Check the file name in the form's manifest."),
    ErrorSpec("not_found.submission", "NotFound", "No such submission", "Check the instance id."),
    ErrorSpec("not_found.attachment", "NotFound", "No such attachment",
              "List the submission's attachments: a file named by a personal field is "
              "shown only to roles that may see personal data, and a missing one was not "
              "sent yet."),
    ErrorSpec("not_found.duplicate_pair", "NotFound", "No such duplicate pair",
              "List the probable duplicates of the form and use a pair's id."),
    ErrorSpec("not_found.user", "NotFound", "No such user", "Check the user name."),
    ErrorSpec("not_found.organisation", "NotFound", "No such organisation",
              "Create the organisation first."),
    ErrorSpec("not_found.route", "NotFound", "No such page or endpoint", "Check the URL."),
    ErrorSpec("not_found.scenario", "NotFound", "No such scenario",
              "Use one of the names in citizendata.scenarios.SCENARIOS."),
    ErrorSpec("not_found.estimate_run", "NotFound", "No such estimate run",
              "List the indicator's runs (GET …/estimates?indicator=ID) and use a run's id."),
    # conflicts
    ErrorSpec("conflict.submission", "Conflict",
              "A different submission with this instance id already exists",
              "Give the edited submission a new instance id (ODK: deprecatedID + new instanceID); "
              "nothing was overwritten."),
    ErrorSpec("conflict.exists", "Conflict", "It already exists", "Choose another name or slug."),
    ErrorSpec("conflict.form_version", "Conflict",
              "This form version already exists with different content",
              "Change the 'version' in the XLSForm settings sheet."),
    # forms
    ErrorSpec("form.not_xlsform", "BadInput", "The file is not an XLSForm",
              "Upload an .xlsx or .xls workbook with 'survey' and 'choices' sheets."),
    ErrorSpec("form.invalid", "BadInput", "The XLSForm is invalid",
              "Correct the sheet and row named in the message."),
    ErrorSpec("form.unsupported", "BadInput", "The XLSForm uses a feature citizendata does not support",
              "Remove or replace the named feature."),
    ErrorSpec("form.attachment_missing", "BadInput",
              "The form needs a file that was not uploaded with it",
              "Upload the named file (CSV, XML or GeoJSON) with the form as a form attachment."),
    ErrorSpec("form.attachment_invalid", "BadInput", "A form attachment cannot be used",
              "Give each attachment the plain file name the form uses, within the size limits."),
    ErrorSpec("form.project_mismatch", "BadInput", "The form id belongs to another form",
              "Keep form_id the same across versions of one form."),
    ErrorSpec("expr.syntax", "BadInput", "An expression in the form cannot be read",
              "Correct the expression at the character position given."),
    ErrorSpec("expr.unsupported_function", "BadInput",
              "An expression uses a function citizendata does not support",
              "Rewrite the expression with the supported functions (docs/methods/expressions.md)."),
    ErrorSpec("expr.unknown_field", "BadInput", "An expression refers to a field that does not exist",
              "Correct the ${name}, or add the field to the form."),
    ErrorSpec("expr.wrong_arguments", "BadInput", "A function in an expression has the wrong arguments",
              "Give the function the number and kind of arguments it takes."),
    ErrorSpec("expr.circular", "BadInput", "Calculations in the form refer to each other in a circle",
              "Break the circle: one calculation must not depend on the others."),
    ErrorSpec("expr.other_repeat", "BadInput",
              "An expression refers to a field inside a repeat that does not enclose it",
              "Move the check into that repeat, or refer to a field outside any repeat."),
    ErrorSpec("expr.invalid_regex", "BadInput", "A regular expression in the form is invalid",
              "Correct the pattern given to regex()."),
    # intake
    ErrorSpec("intake.invalid_json", "BadInput", "The request body is not valid JSON",
              "Send a JSON object, or a JSON array of objects."),
    ErrorSpec("intake.invalid_submission", "BadInput", "The submission is not well formed",
              "Send a JSON object of field values with an instance id."),
    ErrorSpec("intake.missing_instance_id", "BadInput", "The submission has no instance id",
              "Give every submission an instance id ('meta/instanceID' or 'instance_id')."),
    ErrorSpec("intake.invalid_instance_id", "BadInput",
              "An instance id is too long (over 255 characters) or is '.' or '..'",
              "Give each submission a unique id such as uuid:<a random UUID>."),
    ErrorSpec("intake.duplicate_instance_id", "BadInput", "The same instance id appears twice in one batch",
              "Give every submission in a batch its own instance id."),
    ErrorSpec("intake.batch_too_large", "PayloadTooLarge", "Too many submissions in one request",
              "Send at most 10,000 submissions per request, or use bulk import."),
    ErrorSpec("intake.payload_too_large", "PayloadTooLarge", "The request body is too large",
              "Send a smaller request, or split it."),
    ErrorSpec("intake.unsupported_media_type", "UnsupportedMediaType", "Wrong content type",
              "Send the content type named in the message."),
    ErrorSpec("intake.invalid_xml", "BadInput", "The submission XML is not well formed",
              "Send the XForm instance as produced by ODK Collect or Enketo."),
    ErrorSpec("intake.form_mismatch", "BadInput", "The submission is for another form",
              "Submit to the form whose id matches the instance's root element."),
    ErrorSpec("intake.unknown_field", "BadInput", "The submission has a field the form does not have",
              "Remove the field, or add it to the form in a new version."),
    ErrorSpec("intake.bad_timestamp", "BadInput", "A timestamp could not be read",
              "Use ISO 8601, for example 2026-03-01T10:15:00+03:00."),
    # tabular import
    ErrorSpec("import.not_a_table", "BadInput", "The file is not a table",
              "Upload a CSV (comma, semicolon or tab separated) or an XLSX workbook."),
    ErrorSpec("import.encoding", "BadInput", "The file's text encoding could not be read",
              "Save the file as UTF-8, or name its encoding (CLI --encoding cp1252, API "
              "?encoding=cp1252) if you know it."),
    ErrorSpec("import.too_large_uncompressed", "PayloadTooLarge",
              "The workbook expands past a limit when decompressed",
              "Send a smaller workbook or split it; an administrator can raise the limit named "
              "in the message."),
    ErrorSpec("import.invalid_geojson", "BadInput", "The boundary file is not usable GeoJSON",
              "Give a GeoJSON FeatureCollection of Polygon or MultiPolygon features, each "
              "with a unique 'code' property (the area code) and [longitude, latitude] "
              "positions."),
    ErrorSpec("import.no_instance_id_column", "BadInput", "No instance id column",
              "Keep the '_uuid' (KoboToolbox), 'meta-instanceID'/'KEY' (ODK Central) or "
              "'instance_id' column."),
    ErrorSpec("import.unknown_column", "BadInput", "A column is not a field of the form",
              "Remove the column or rename it to the form field's name or path."),
    ErrorSpec("import.duplicate_column", "BadInput", "Two columns have the same name",
              "Keep one of them."),
    ErrorSpec("import.duplicate_instance_id", "BadInput", "An instance id appears twice in the file",
              "Keep one row per instance id."),
    ErrorSpec("import.missing_instance_id", "BadInput", "A row has no instance id",
              "Fill the instance id, or remove the row."),
    ErrorSpec("import.ragged_row", "BadInput", "A row has a different number of cells than the header",
              "Check the delimiter and quoting of that row."),
    ErrorSpec("import.unknown_part", "BadInput", "A file or sheet of the export is not part of the form",
              "Remove it, or upload the form version that has that repeat."),
    ErrorSpec("import.orphan_repeat_row", "BadInput", "A repeat row points to no parent row",
              "Check the parent index/key of that row."),
    ErrorSpec("import.structure", "BadInput", "The file has structural problems; nothing was imported",
              "Fix every problem listed, then import the file again."),
    # configuration, workspace, storage
    ErrorSpec("config.unsafe", "ServerMisconfigured", "Unsafe setting in production mode",
              "Set the named setting to a safe value."),
    ErrorSpec("config.invalid", "ServerMisconfigured", "A setting is invalid", "Correct the setting."),
    ErrorSpec("workspace.missing", "BadInput", "No workspace here", "Run 'citizendata init' first."),
    ErrorSpec("workspace.not_initialised", "BadInput", "No initialised workspace to serve",
              "Name the workspace folder with -w FOLDER (or CITIZENDATA_WORKSPACE); make one "
              "with 'citizendata init -w FOLDER' or 'citizendata demo'."),
    ErrorSpec("db.unavailable", "ServerMisconfigured", "The database cannot be reached",
              "Check CITIZENDATA_DATABASE_URL and that the server is running."),
    ErrorSpec("odata.invalid_query", "BadInput", "The OData query cannot be served",
              "Use $top, $skip, $count, $select, $skiptoken (from @odata.nextLink) and a "
              "$filter on __system/submissionDate or __system/reviewState with eq, ne, gt, "
              "ge, lt, le, and, or, not (docs/guide.md, OData)."),
    ErrorSpec("input.invalid", "BadInput", "Invalid value", "Correct the value named in the message."),
    ErrorSpec("input.too_deep", "BadInput", "The input is nested too deeply",
              "Nest objects, lists or XML elements at most as deep as the limit in the message; "
              "forms' groups and repeats never need more."),
    ErrorSpec("snapshot.empty", "BadInput", "No submissions to snapshot",
              "Import or receive submissions first."),
    # encrypted forms (ODK encryption; docs/openrosa.md "Encrypted forms")
    ErrorSpec("encryption.invalid_envelope", "BadInput",
              "The encrypted submission's manifest is incomplete",
              "Send the manifest as ODK Collect writes it: id, meta/instanceID, "
              "base64EncryptedKey, encryptedXmlFile and one <media><file> per media file."),
    ErrorSpec("encryption.unexpected_file", "BadInput",
              "An encrypted submission came with a file its manifest does not list",
              "Send only the .enc files the manifest lists."),
    ErrorSpec("encryption.weak_passphrase", "BadInput", "The passphrase is too short",
              "Choose a passphrase of at least 10 characters; keep it safe: without it "
              "the encrypted submissions cannot be read by anyone."),
    ErrorSpec("encryption.invalid_private_key", "BadInput", "The private key cannot be read",
              "Give the RSA private key as an unencrypted PEM file (BEGIN PRIVATE KEY or "
              "BEGIN RSA PRIVATE KEY)."),
    ErrorSpec("encryption.unknown_key", "BadInput",
              "No form of the project carries this key's public key",
              "Register the private key that belongs to the public_key in the form's "
              "settings sheet."),
    ErrorSpec("encryption.no_private_key", "BadInput", "The project holds no private key",
              "Enable managed encryption, or register the private key of the form's "
              "public_key."),
    ErrorSpec("encryption.wrong_passphrase", "BadInput",
              "The passphrase opens none of the project's keys",
              "Check the passphrase (it is case-sensitive); nothing was decrypted."),
    ErrorSpec("encryption.no_key", "BadInput", "No key opened by the passphrase decrypts this "
              "submission", "Give the passphrase of the key the form carried when the "
              "submission was made, or register that key's private key."),
    ErrorSpec("encryption.corrupted", "BadInput", "An encrypted file does not decrypt",
              "Send the submission again from the phone; the stored copy is damaged or "
              "incomplete."),
    ErrorSpec("encryption.bad_signature", "BadInput",
              "An encrypted submission's signature does not match its files",
              "Send the submission again from the phone; the files were changed after "
              "encryption or damaged."),
    ErrorSpec("encryption.missing_file", "BadInput",
              "An encrypted submission lacks a file its manifest lists",
              "Let the phone finish sending (ODK Collect resends what is missing)."),
    ErrorSpec("encryption.instance_mismatch", "BadInput",
              "The decrypted instance is not the one its manifest names",
              "Send the submission again from the phone."),
    # estimation: indicators, weighting, variance
    ErrorSpec("indicator.invalid", "BadInput", "An indicator definition is invalid",
              "Correct the indicator named in the message in the project spec."),
    ErrorSpec("indicator.unknown", "NotFound", "No such indicator",
              "Use an indicator id declared in the project spec's 'indicators'."),
    ErrorSpec("indicator.unknown_dimension", "BadInput",
              "A disaggregation names a dimension that does not exist",
              "Use a field of the unit of analysis, an enclosing level, or a derived variable."),
    ErrorSpec("review.none_approved", "BadInput",
              "No submission of the form is let into analysis yet (none approved)",
              "Run validation, approve the submissions without errors (approve-clean, or "
              "'Approve all without errors' on the review page) and decide the rest."),
    ErrorSpec("review.not_validated", "Conflict",
              "The form has not been validated, so no submission is known to be clean",
              "Run validation first (the review page's 'Run validation', or citizendata "
              "validate), then approve the submissions without errors."),
    ErrorSpec("indicator.empty", "BadInput", "No rows to estimate from",
              "Approve submissions first, or check the indicator's denominator filter."),
    ErrorSpec("calibration.inconsistent_margins", "BadInput",
              "The population margins do not have the same grand total",
              "Take every margin from the same reference table and date, or rescale them."),
    ErrorSpec("calibration.missing_category", "BadInput",
              "A margin category has no unit in the sample",
              "Collapse the category with a neighbour in both the sample and the margin."),
    ErrorSpec("calibration.unknown_category", "BadInput",
              "A sample unit has a value that the margin does not have",
              "Correct the value, add the category to the reference table, or recode it."),
    ErrorSpec("calibration.missing_value", "BadInput",
              "A sample unit has no value for a calibration variable",
              "Impute or drop the unit, or calibrate on variables every unit answered."),
    ErrorSpec("calibration.not_converged", "BadInput",
              "The calibration did not converge",
              "Widen the bounds, collapse small categories, or use fewer margins."),
    ErrorSpec("calibration.invalid", "BadInput", "The calibration settings are invalid",
              "Correct the setting named in the message."),
    # sampling designs, replicate weights and non-probability samples
    ErrorSpec("design.invalid", "BadInput", "The sampling design declaration is invalid",
              "Correct the setting named in the message (weights, strata, psu, ssu, fpc)."),
    ErrorSpec("design.missing_value", "BadInput",
              "A unit has no value for a design variable (weight, stratum or sampling unit)",
              "Give every unit its weight, stratum and sampling units, or leave it out."),
    ErrorSpec("design.not_nested", "BadInput",
              "A sampling unit appears in more than one stratum (or first-stage unit)",
              "Give sampling units ids that are unique within their stratum, or declare "
              "nest: true so ids are read within each stratum."),
    ErrorSpec("design.fpc_invalid", "BadInput",
              "The finite population correction does not fit the sample",
              "Give each stratum one population size at least as large as its number of "
              "sampled units (or a sampling fraction between 0 and 1)."),
    ErrorSpec("design.lonely_psu", "BadInput",
              "A stratum has only one first-stage unit, so its variance cannot be estimated",
              "Collapse the stratum with a similar one, or choose lonely_psu: adjust, average, "
              "certainty or remove."),
    ErrorSpec("design.replicates_invalid", "BadInput",
              "The replicate weights cannot be made or used as given",
              "Check the replicate weight columns, their type and scale, or the design they "
              "are made from."),
    ErrorSpec("nonprob.invalid", "BadInput",
              "The non-probability estimate cannot be made as given",
              "Give both samples the same covariates, with the reference survey's design "
              "weights."),
    # cases, record linkage and multiple systems estimation (integrate/linkage, pprl, mse)
    ErrorSpec("cases.invalid", "BadInput",
              "The case list cannot be imported as given",
              "Give every row the list's own record id, the victim's identifiers and the "
              "event's violation type, date and place, in the columns the project's spec "
              "maps for that list."),
    ErrorSpec("verification.invalid", "BadInput",
              "The verification decision cannot be recorded",
              "Decide verified or not_verified for a case of the project, name the criteria "
              "met from its written criteria and give the evidence."),
    ErrorSpec("linkage.invalid", "BadInput",
              "The records cannot be linked as given",
              "Give every list the same identifier columns (names, date, place) and a "
              "record id that is unique within its list."),
    ErrorSpec("linkage.review_invalid", "BadInput",
              "The clerical review decision cannot be recorded",
              "Decide a pair the linkage proposed for review, as match, non_match or unsure."),
    ErrorSpec("pprl.invalid", "BadInput",
              "The privacy-preserving encodings cannot be made or linked as given",
              "Encode every list with the same schema and shared secret (same fields, "
              "filter length and number of hash functions)."),
    ErrorSpec("mse.invalid_histories", "BadInput",
              "The capture histories cannot be read as given",
              "Give one 0/1 column per list, named by the list, and a last column with the "
              "count of each pattern: whole numbers, no negative counts, no all-zero pattern."),
    ErrorSpec("mse.invalid_model", "BadInput",
              "The model cannot be fitted as given",
              "Write each interaction as two list names joined by ':', each a column of the "
              "histories, and use a method the estimator offers."),
    ErrorSpec("mse.no_estimate", "BadInput",
              "No finite estimate of the unobserved count exists for this model and data",
              "Choose a model with fewer interactions, merge sparse lists, or let the "
              "selection consider admissible models only."),
    # small areas, population and places (integrate/sae, population, places)
    ErrorSpec("sae.invalid_direct", "BadInput",
              "The direct estimates cannot be used as given",
              "Give one row per area with its direct estimate and a positive sampling "
              "variance (or standard error); the message names the area and the column."),
    ErrorSpec("sae.invalid_covariates", "BadInput",
              "The covariates do not match the areas",
              "Give every area of the direct estimates, and every area to predict, a value "
              "of every covariate in the covariate table; the message names the areas."),
    ErrorSpec("sae.invalid_model", "BadInput",
              "The small area model cannot be fitted as given",
              "Use reml, ml or fh, covariates that are not collinear, and more areas than "
              "covariates."),
    ErrorSpec("population.invalid", "BadInput",
              "The population inputs cannot be used as given",
              "Give each area its dwelling count, and the household listing its area, "
              "household and number of persons; the message names the area or row."),
    ErrorSpec("geo.invalid_boundaries", "BadInput",
              "The boundary file cannot be read as areas",
              "Give a GeoJSON, Shapefile (zipped) or GeoPackage of polygons, each with a "
              "unique area code and a valid geometry; the message names the feature."),
    ErrorSpec("geo.invalid_points", "BadInput",
              "The points cannot be placed",
              "Give each point a latitude within [-90, 90] and a longitude within "
              "[-180, 180] in that order (WGS 84); the message names the row."),
    # protection: disclosure control, differential privacy, location, consent
    ErrorSpec("privacy.invalid_table", "BadInput",
              "A table cannot be protected as given",
              "Give every cell its dimension codes and a non-negative count; the message "
              "names the cell and the broken total."),
    ErrorSpec("privacy.unprotectable", "BadInput",
              "A sensitive cell cannot be protected by suppressing other cells",
              "Collapse categories (fewer, larger cells) or publish fewer dimensions together."),
    ErrorSpec("privacy.rounding_infeasible", "BadInput",
              "No controlled rounding keeps every total of this table additive",
              "Use random rounding, or round a table with fewer dimensions."),
    ErrorSpec("privacy.k_anonymity_unreached", "BadInput",
              "The microdata cannot reach the project's k by the recodings allowed",
              "Add coarser recodings for the quasi-identifiers, raise max_suppressed, "
              "or declare fewer quasi-identifiers."),
    ErrorSpec("privacy.budget_exceeded", "Conflict",
              "This release would spend more privacy budget than the project has left",
              "Spend less epsilon on this release, or raise the budget with the community's "
              "agreement (it cannot be given back)."),
    ErrorSpec("privacy.invalid_location", "BadInput",
              "A location cannot be coarsened",
              "Give latitude in [-90, 90] and longitude in [-180, 180], or boundaries that "
              "cover the point."),
    ErrorSpec("privacy.undeclared_table", "Forbidden",
              "This role may ask only for tables the project declares",
              "Ask for cells within the indicator's declared disaggregations, or ask an owner "
              "to declare the table; tables protected one by one could be differenced."),
    ErrorSpec("privacy.personal_field", "Forbidden",
              "A field tagged personal may not leave the system for this role",
              "Ask a project owner or manager, or leave the personal fields out."),
    ErrorSpec("consent.unknown_submission", "NotFound",
              "No submission with that instance id in this form",
              "Check the instance id the respondent gave (their receipt carries it)."),
    ErrorSpec("consent.already_withdrawn", "Conflict",
              "This submission's consent was already withdrawn for that scope",
              "Nothing to do: later snapshots, estimates and releases already leave it out."),
    ErrorSpec("consent.withdrawn", "Conflict",
              "The respondent withdrew consent to everything: the submission is no longer reviewed",
              "Nothing to do: it left the review queue; its history stays with owners and "
              "managers."),
    ErrorSpec("consent.invalid_scope", "BadInput", "Unknown consent scope",
              "Use one of the scopes the project's consent policy names (e.g. analysis, "
              "publication, nso_sharing), or all."),
    # releases and the community sign-off gate
    ErrorSpec("release.not_found", "NotFound", "No such release",
              "Use a version the project has (citizendata release list)."),
    ErrorSpec("release.invalid_state", "Conflict",
              "The release is not in a state that allows this",
              "A published or withdrawn release cannot change; build a new version."),
    ErrorSpec("release.signoff_missing", "Conflict",
              "The release lacks a required sign-off",
              "Ask the community representatives (and the NSO, when integration is declared) "
              "to approve it."),
    ErrorSpec("release.consent_withdrawn", "Conflict",
              "A respondent withdrew consent after this release was built",
              "Build a new version: it leaves the respondent out."),
    ErrorSpec("release.not_signatory", "Forbidden",
              "You are not a signatory of this project's releases",
              "Ask the owner to name you in release.community_representatives, or to give "
              "you the nso role."),
    # background jobs
    ErrorSpec("not_found.job", "NotFound", "No such job",
              "Check the job's number; you see the jobs you asked for and those your role "
              "could run."),
    ErrorSpec("job.not_cancellable", "Conflict", "The job has finished",
              "A finished, failed or cancelled job cannot be cancelled; ask for a new one."),
    ErrorSpec("job.abandoned", "CitizenDataError", "The job was interrupted too often",
              "Its worker stopped several times while running it; look at the server's log, "
              "then ask for the job again."),
    # public links: anonymous submissions to one form (docs/webforms-public-links.md)
    ErrorSpec("weblink.unknown", "NotFound", "No such public link",
              "Check the link: copy the whole address the project gave you."),
    ErrorSpec("weblink.revoked", "Gone", "This public link was switched off",
              "Ask the project for a new link."),
    ErrorSpec("weblink.expired", "Gone", "This public link has expired",
              "Ask the project for a new link."),
    ErrorSpec("webform.encrypted", "Conflict",
              "This form is encrypted: the browser cannot fill it",
              "Fill it with ODK Collect, which encrypts each submission on the phone; the "
              "web form engine would send the answers unencrypted."),
    ErrorSpec("weblink.full", "Conflict", "This public link takes no more submissions",
              "The survey has received all the answers it asked for; ask the project for "
              "a new link if you still want to take part."),
    ErrorSpec("weblink.wrong_form", "BadInput", "The submission is not of this link's form",
              "Send only submissions of the form the link opens."),
    ErrorSpec("weblink.encrypted", "BadInput", "Public links take no encrypted submissions",
              "Fill the form in the browser page of the link; it sends the answers over "
              "the connection without ODK encryption."),
    ErrorSpec("weblink.rate_limited", "TooManyRequests",
              "Too many submissions from your address",
              "Wait the number of seconds given, then send again; nothing was lost."),
    ErrorSpec("internal", "CitizenDataError", "Internal error",
              "Report this with the request id; no data was changed."),
)

CATALOGUE: Mapping[str, ErrorSpec] = {spec.code: spec for spec in _SPECS}


class CitizenDataError(Exception):
    """Base of every error citizendata raises on purpose."""

    http_status: ClassVar[int] = 500

    def __init__(
        self,
        code: str,
        message: str,
        *,
        where: Where | None = None,
        rule: str | None = None,
        fix: str | None = None,
        problems: Iterable[Problem] = (),
        details: Mapping[str, Any] | None = None,
    ) -> None:
        spec = CATALOGUE.get(code)
        if spec is None:
            raise ValueError(f"error code {code!r} is not in the catalogue")
        if spec.kind != type(self).__name__:
            raise ValueError(f"error code {code!r} belongs to {spec.kind}, not {type(self).__name__}")
        self.code = code
        self.message = message
        self.where = where
        self.rule = rule
        self.fix = fix if fix is not None else spec.fix
        self.problems: list[Problem] = list(problems)
        self.details: dict[str, Any] = dict(details or {})
        super().__init__(str(self))

    @property
    def title(self) -> str:
        """The catalogue's title for this code."""
        return CATALOGUE[self.code].title

    def to_dict(self) -> dict[str, Any]:
        """The one JSON error shape used by the API and `--json` CLI output."""
        body: dict[str, Any] = {
            "code": self.code,
            "title": self.title,
            "message": self.message,
            "status": self.http_status,
        }
        if self.where is not None and self.where.to_dict():
            body["where"] = self.where.to_dict()
        if self.rule:
            body["rule"] = self.rule
        if self.fix:
            body["fix"] = self.fix
        if self.problems:
            body["problems"] = [p.to_dict() for p in self.problems]
        if self.details:
            body["details"] = self.details
        return {"error": body}

    def __str__(self) -> str:
        loc = f" [{self.where}]" if self.where is not None and self.where.to_dict() else ""
        return f"{self.code}{loc}: {self.message}"


class BadInput(CitizenDataError):
    """The input cannot be accepted as it is."""

    http_status = 422


class Unauthenticated(CitizenDataError):
    """Nobody is logged in, or the credentials are wrong."""

    http_status = 401


class Forbidden(CitizenDataError):
    """The actor is known but its role does not allow the action."""

    http_status = 403


class NotFound(CitizenDataError):
    """The object does not exist, or the actor may not know that it exists."""

    http_status = 404


class Gone(CitizenDataError):
    """The object existed but was switched off for good (a revoked or expired public link)."""

    http_status = 410


class Conflict(CitizenDataError):
    """The request conflicts with what is stored; nothing was changed."""

    http_status = 409


class PayloadTooLarge(CitizenDataError):
    """The request is over a size limit."""

    http_status = 413


class UnsupportedMediaType(CitizenDataError):
    """The request's content type is not the one expected."""

    http_status = 415


class TooManyRequests(CitizenDataError):
    """Too many attempts in a short time; try again later."""

    http_status = 429


class ServerMisconfigured(CitizenDataError):
    """A setting or the environment is wrong."""

    http_status = 500


def problems_error(
    problems: list[Problem], *, file: str | None = None, code: str = "import.structure"
) -> BadInput:
    """One error that carries every problem found in a file."""
    n = len(problems)
    name = f" in {file}" if file else ""
    return BadInput(
        code,
        f"{n} problem{'s' if n != 1 else ''} found{name}; nothing was imported. "
        + "; ".join(str(p) for p in problems[:5])
        + (" …" if n > 5 else ""),
        where=Where(file=file) if file else None,
        problems=problems,
    )
