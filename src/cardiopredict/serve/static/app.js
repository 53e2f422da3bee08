// The clinician's page: pick or drop the files of one patient, send them, show the answer in words.
// Plain DOM calls, no build step. Server text is only ever set with textContent (never as HTML).
"use strict";

const API = "/api/v1";
const $ = (id) => document.getElementById(id);
let models = [];
const figureUrls = [];

function headers() {
  const token = $("token").value.trim();
  return token ? { Authorization: "Bearer " + token } : {};
}

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function getJSON(url) {
  const response = await fetch(url, { headers: headers() });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || response.statusText);
  return body;
}

async function loadModels() {
  try {
    const health = await getJSON("/healthz");
    $("token-row").hidden = !health.token_required;
    models = (await getJSON(API + "/models")).models;
  } catch (error) {
    showError("Could not list the models: " + error.message);
    return;
  }
  const select = $("model");
  select.replaceChildren();
  for (const model of models) {
    const label = model.available ? model.name : model.name + " (unavailable)";
    select.append(el("option", label, { value: model.name }));
  }
  showError("");
  selectModel();
}

function current() {
  return models.find((m) => m.name === $("model").value);
}

function selectModel() {
  const model = current();
  const box = $("inputs");
  box.replaceChildren();
  if (!model) return;
  if (!model.available) {
    showError("Model " + model.name + " did not load: " + model.reason);
    renderCard(null);
    return;
  }
  for (const input of model.inputs) box.append(dropZone(input));
  renderCard(model);
}

function dropZone(input) {
  const id = "file-" + input.field;
  const zone = el("label", null, { class: "drop", for: id });
  zone.append(el("span", input.field + " — " + input.description, { class: "name" }));
  zone.append(el("span", "Choose a file, or drop it here. "));
  const attrs = { type: "file", id: id, name: input.field, required: "" };
  if (input.kind === "lge_zip") attrs.accept = ".zip,application/zip";
  const file = el("input", null, attrs);
  zone.append(file);
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer.files.length) file.files = event.dataTransfer.files;
  });
  return zone;
}

function renderCard(model) {
  const section = $("model-card");
  section.hidden = !model;
  if (!model) return;
  const card = model.card || {};
  const cohort = card.training_cohort || {};
  $("synthetic-banner").hidden = cohort.synthetic !== true;
  const facts = $("card-facts");
  facts.replaceChildren();
  const ci = card.auc_ci95 ? " (95 % CI " + card.auc_ci95.map((v) => fmt(v)).join("–") + ")" : "";
  const rule = card.rule_auc ? fmt(card.rule_auc.pooled_auc) + " (" + card.rule_auc.name + ")" : "not reported";
  const protocol = card.protocol || {};
  const rows = [
    ["Study", card.study],
    ["Trained on", (cohort.n_patients ?? "?") + " patients" + (cohort.synthetic ? ", SYNTHETIC" : "")],
    ["Pooled out-of-fold AUC", fmt(card.pooled_auc) + ci],
    ["Clinical rule AUC, same patients", rule],
    ["Protocol", (protocol.profile || "?") + ", " + protocol.n_folds + " folds, early stopping " +
      protocol.early_stopping],
    ["Inputs", model.inputs.map((i) => i.field).join(", ")],
    ["Use", "Research use only"],
  ];
  for (const [key, value] of rows) facts.append(el("dt", key), el("dd", value));
}

function fmt(value, digits = 2) {
  return typeof value === "number" ? value.toFixed(digits) : "n/a";
}

function percent(value) {
  return typeof value === "number" ? (100 * value).toFixed(0) + " %" : "n/a";
}

async function submit(event) {
  event.preventDefault();
  const model = current();
  if (!model || !model.available) return;
  const data = new FormData();
  for (const input of model.inputs) {
    const file = $("file-" + input.field).files[0];
    if (!file) {
      showError("Choose the " + input.field + " file first.");
      $("file-" + input.field).focus();
      return;
    }
    data.append(input.field, file);
  }
  if ($("sex").value) data.append("sex", $("sex").value);
  if ($("lvef").value) data.append("lvef", $("lvef").value);
  showError("");
  $("busy").hidden = false;
  $("submit").disabled = true;
  try {
    const url = API + "/models/" + encodeURIComponent(model.name) + "/predict";
    const response = await fetch(url, { method: "POST", body: data, headers: headers() });
    const body = await response.json().catch(() => ({ message: response.statusText }));
    if (!response.ok) {
      $("result").hidden = true;
      showError((body.error ? body.error + ": " : "") + body.message);
      return;
    }
    renderResult(body);
  } catch (error) {
    showError("The server could not be reached: " + error.message);
  } finally {
    $("busy").hidden = true;
    $("submit").disabled = false;
  }
}

function renderResult(body) {
  const prediction = body.prediction;
  if ("probability" in prediction) {
    $("outcome").textContent = "Probability of " + prediction.outcome;
    $("probability").textContent = percent(prediction.probability);
    $("spread").textContent = "(fold models " + percent(prediction.spread.min) + "–" +
      percent(prediction.spread.max) + ", SD " + percent(prediction.spread.sd) + ")";
    $("model-verdict").textContent = (prediction.positive ? "predicts " : "does not predict ") +
      prediction.outcome + " (threshold " + percent(prediction.threshold) + ")";
  } else {
    $("outcome").textContent = "Most likely class";
    $("probability").textContent = prediction.predicted_class + " (" +
      percent(prediction.probabilities[prediction.predicted_class]) + ")";
    $("spread").textContent = "";
    $("model-verdict").textContent = Object.entries(prediction.probabilities)
      .map(([cls, p]) => cls + " " + percent(p)).join(", ");
  }
  const rule = body.rule;
  $("rule-verdict").textContent = !rule ? "no clinical rule for this study"
    : !rule.applicable ? rule.name + ": cannot be applied (" + rule.reason + ")"
    : rule.name + ": " + (rule.positive ? "criterion met" : "criterion not met");
  $("agreement").textContent = body.agreement === null ? "n/a"
    : body.agreement ? "model and rule agree" : "model and rule disagree";
  const warnings = $("warnings");
  warnings.replaceChildren();
  for (const text of body.warnings.length ? body.warnings : ["none"]) warnings.append(el("li", text));
  const model = current();
  renderMeasurements(body.measurements, model && model.inputs.length ? model.inputs[0].kind : "ecg");
  renderFigures(body.figures);
  $("result").hidden = false;
  $("result-title").focus();
}

const ECG_ROWS = [
  ["QRS duration (ms)", "qrs_duration_ms"], ["LBBB (AHA)", "lbbb_aha"], ["LBBB (Strauss)", "lbbb_strauss"],
  ["RBBB", "rbbb"], ["Heart rate (bpm)", "heart_rate_bpm"], ["PR interval (ms)", "pr_interval_ms"],
  ["QRS axis (°)", "qrs_axis_deg"], ["Paced", "paced"], ["Beats (valid)", null],
];
const LGE_ROWS = [
  ["Slices used", "n_slices"], ["Myocardium (g)", "myocardium_mass_g"], ["Scar (g)", "scar_mass_g"],
  ["Scar (% of myocardium)", "scar_pct"], ["Core (g)", "core_mass_g"], ["Core (%)", "core_pct"],
  ["Gray zone (g)", "gray_zone_mass_g"], ["Gray zone (%)", "gray_zone_pct"],
  ["Scar entropy (bits)", "scar_entropy_bits"], ["Mean transmurality", "mean_transmurality"],
  ["Scarred AHA segments", "n_scar_segments"],
];

function renderMeasurements(measurements, kind) {
  const table = $("measurements");
  table.replaceChildren();
  const ecgs = Object.keys(measurements).filter((k) => typeof measurements[k] === "object" && measurements[k]);
  const lge = kind === "lge_zip";
  const head = el("tr");
  head.append(el("th", "", { scope: "col" }),
    ...ecgs.map((k) => el("th", lge ? "LGE study" : k + " ECG", { scope: "col" })));
  table.append(head);
  const rows = lge ? LGE_ROWS : ECG_ROWS;
  for (const [label, key] of rows) {
    const row = el("tr");
    row.append(el("th", label, { scope: "row" }));
    for (const ecg of ecgs) {
      const m = measurements[ecg];
      const value = key ? m[key] : m.n_beats + " (" + m.n_valid_beats + ")";
      row.append(el("td", value === true ? "yes" : value === false ? "no" : value ?? "n/a"));
    }
    table.append(row);
  }
  if (measurements.lvef_percent !== null && measurements.lvef_percent !== undefined) {
    const row = el("tr");
    row.append(el("th", "LVEF (%)", { scope: "row" }), el("td", measurements.lvef_percent));
    table.append(row);
  }
}

async function renderFigures(figures) {
  const box = $("figures");
  box.replaceChildren();
  while (figureUrls.length) URL.revokeObjectURL(figureUrls.pop());
  for (const [name, url] of Object.entries(figures)) {
    const text = name === "saliency" ? "Integrated-gradients saliency over the QRS window(s)"
      : name === "slices" ? "Slices used, base to apex: LGE, myocardium, scar and integrated-gradients saliency"
      : "12-lead " + name.replace("ecg_", "") + " ECG with the QRS complexes used";
    const figure = el("figure");
    const caption = el("figcaption", text + " (drawing…)");
    figure.append(caption);
    box.append(figure);
    fetch(url, { headers: headers() })
      .then((response) => (response.ok ? response.blob() : Promise.reject(new Error(response.statusText))))
      .then((blob) => {
        const src = URL.createObjectURL(blob);
        figureUrls.push(src);
        figure.append(el("img", null, { src: src, alt: text, "data-figure": name }));
        caption.textContent = text;
      })
      .catch((error) => { caption.textContent = text + ": could not be drawn (" + error.message + ")"; });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("model").addEventListener("change", selectModel);
  $("predict-form").addEventListener("submit", submit);
  $("token").addEventListener("change", loadModels);
  $("result-title").setAttribute("tabindex", "-1");
  loadModels();
});
