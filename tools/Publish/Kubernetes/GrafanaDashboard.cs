using System.Text.Json;
using System.Text.Json.Nodes;

namespace MsSwift.Publish.Kubernetes;

/// <summary>
/// The product's Grafana dashboard: the front door (request rate, latency percentiles), serving
/// (outcomes, time to first token, batch size, queue depth and time, tokens/s) and training
/// (loss, validation loss, step time, tokens/s), on the Prometheus names the exporter gives the
/// services' instruments. Grafana's dashboard sidecar loads it from its ConfigMap.
/// </summary>
public static class GrafanaDashboard
{
    public const string FileName = "grafana-dashboard.json";

    private const string Gateway = "namespace=\"$namespace\", " + Monitoring.ServiceLabel + "=\"gateway\"";
    private const string InNamespace = "namespace=\"$namespace\"";

    // Before Panels, which uses it in its initializer.
    private static readonly double[] Quantiles = [0.5, 0.95, 0.99];

    public static IReadOnlyList<Panel> Panels { get; } =
    [
        new("Gateway: requests per second by status", "reqps",
            [new($"sum by (http_response_status_code) (rate(http_server_request_duration_seconds_count{{{Gateway}}}[$__rate_interval]))", "{{http_response_status_code}}")]),
        new("Gateway: latency percentiles", "s", Percentiles("http_server_request_duration_seconds_bucket", Gateway)),
        new("Inference: requests per second by outcome", "reqps",
            [new($"sum by (outcome, transport) (rate(msswift_inference_requests_total{{{InNamespace}}}[$__rate_interval]))", "{{transport}} {{outcome}}")]),
        new("Inference: time to first token", "s", Percentiles("msswift_inference_time_to_first_token_seconds_bucket", InNamespace)),
        new("Inference: batch size (inferences per execution)", "short",
            [new($"sum(rate(msswift_inference_inferences_total{{{InNamespace}}}[$__rate_interval])) / sum(rate(msswift_inference_executions_total{{{InNamespace}}}[$__rate_interval]))", "average batch")]),
        new("Inference: queue depth (requests queued or generating)", "short",
            [new($"sum by (pod) (msswift_inference_requests_pending{{{InNamespace}}})", "{{pod}}")]),
        new("Inference: queue time", "s", Percentiles("msswift_inference_queue_duration_seconds_bucket", InNamespace)),
        new("Inference: tokens per second", "short",
            [new($"sum by (pod) (rate(msswift_inference_tokens_generated_total{{{InNamespace}}}[$__rate_interval]))", "{{pod}}")]),
        new("Inference: inter-token latency", "s", Percentiles("msswift_inference_inter_token_latency_seconds_bucket", InNamespace)),
        new("Training: loss", "short",
        [
            new($"max by (job_id) (msswift_training_loss{{{InNamespace}}})", "train {{job_id}}"),
            new($"max by (job_id) (msswift_training_eval_loss{{{InNamespace}}})", "eval {{job_id}}"),
        ]),
        new("Training: step time", "s",
        [
            new($"histogram_quantile(0.5, sum by (le, job_id) (rate(msswift_training_step_duration_seconds_bucket{{{InNamespace}}}[$__rate_interval])))", "p50 {{job_id}}"),
            new($"histogram_quantile(0.95, sum by (le, job_id) (rate(msswift_training_step_duration_seconds_bucket{{{InNamespace}}}[$__rate_interval])))", "p95 {{job_id}}"),
        ]),
        new("Training: tokens per second", "short",
            [new($"sum by (job_id) (rate(msswift_training_tokens_total{{{InNamespace}}}[$__rate_interval]))", "{{job_id}}")]),
    ];

    public static string Render(PublishSettings settings)
    {
        var panels = new JsonArray();
        for (var index = 0; index < Panels.Count; index++)
        {
            var panel = Panels[index];
            var targets = new JsonArray();
            for (var target = 0; target < panel.Queries.Count; target++)
            {
                targets.Add(new JsonObject
                {
                    ["refId"] = ((char)('A' + target)).ToString(),
                    ["datasource"] = Datasource(),
                    ["expr"] = panel.Queries[target].Expression,
                    ["legendFormat"] = panel.Queries[target].Legend,
                });
            }

            panels.Add(new JsonObject
            {
                ["id"] = index + 1,
                ["type"] = "timeseries",
                ["title"] = panel.Title,
                ["datasource"] = Datasource(),
                ["gridPos"] = new JsonObject { ["h"] = 8, ["w"] = 12, ["x"] = index % 2 * 12, ["y"] = index / 2 * 8 },
                ["fieldConfig"] = new JsonObject { ["defaults"] = new JsonObject { ["unit"] = panel.Unit }, ["overrides"] = new JsonArray() },
                ["targets"] = targets,
            });
        }

        var dashboard = new JsonObject
        {
            ["uid"] = "msswift-overview",
            ["title"] = "MsSwift: serving and training",
            ["tags"] = new JsonArray("msswift"),
            ["timezone"] = "browser",
            ["schemaVersion"] = 39,
            ["refresh"] = "30s",
            ["time"] = new JsonObject { ["from"] = "now-1h", ["to"] = "now" },
            ["templating"] = new JsonObject
            {
                ["list"] = new JsonArray(
                    new JsonObject { ["name"] = "datasource", ["label"] = "Prometheus", ["type"] = "datasource", ["query"] = "prometheus" },
                    new JsonObject
                    {
                        ["name"] = "namespace",
                        ["label"] = "Namespace",
                        ["type"] = "textbox",
                        ["query"] = settings.Namespace,
                        ["current"] = new JsonObject { ["text"] = settings.Namespace, ["value"] = settings.Namespace },
                    }),
            },
            ["panels"] = panels,
        };
        return dashboard.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    private static JsonObject Datasource() => new() { ["type"] = "prometheus", ["uid"] = "${datasource}" };

    private static IReadOnlyList<Query> Percentiles(string bucket, string selector) =>
    [
        .. Quantiles.Select(quantile => new Query(
            $"histogram_quantile({quantile.ToString(System.Globalization.CultureInfo.InvariantCulture)}, sum by (le) (rate({bucket}{{{selector}}}[$__rate_interval])))",
            $"p{(quantile * 100).ToString(System.Globalization.CultureInfo.InvariantCulture)}")),
    ];

    public sealed record Panel(string Title, string Unit, IReadOnlyList<Query> Queries);

    public sealed record Query(string Expression, string Legend);
}
