using System.Globalization;
using System.Text.Json;
using MsSwift.Cli.Infrastructure;
using MsSwift.Cli.Plotting;
using MsSwift.Testing;

namespace MsSwift.Cli.Tests;

/// <summary>
/// The whole product through the gateway, driven by the CLI as a user would: ingest, train with
/// two workers (detach with Ctrl+C, re-attach), the registry shows the version with its eval loss,
/// plot, promote, predict answers from it, a canary splits traffic, rollback returns to the
/// previous version; a fine-tune of the bundled model registers as its child; and a cancelled job
/// ends cancelled.
/// </summary>
[Collection(LocalClusterGroup.Name)]
public sealed class FullLoopTests(LocalCluster cluster)
{
    private const int Steps = 60;
    private static readonly TimeSpan Switch = TimeSpan.FromSeconds(60);

    // Small and quick: the loop, not the model, is under test.
    private static readonly string[] Tiny = ["--workers", "2", "--batch-size", "4", "--window", "32", "--layers", "1", "--heads", "2", "--width", "32", "--context", "64", "--seed", "3"];

    [Fact]
    public async Task Ingest_train_detach_attach_plot_promote_predict_canary_rollback()
    {
        var ingest = await cluster.RunAsync("datasets", "upload", CorpusPath, "--name", "shakespeare", "--json");
        Assert.True(ingest.ExitCode == 0, ingest.ToString());

        // Ctrl+C once the job runs: the CLI detaches, the job carries on.
        using var ctrlC = new CancellationTokenSource();
        var first = await cluster.RunAsync(null,
            ["train", "--dataset", "shakespeare", "--model", "demo", "--steps", $"{Steps}", "--eval-every", "20", "--checkpoint-every", "20", .. Tiny, "--json"],
            watch: output =>
            {
                if (IsRunningPastStep(output, 2))
                {
                    ctrlC.Cancel();
                }
            },
            interrupt: ctrlC.Token);
        Assert.True(first.ExitCode == 0, first.ToString());
        var jobId = first.JsonLines[0].GetProperty("jobId").GetString()!;
        Assert.Contains($"Re-attach: msswift jobs attach {jobId}", first.Error);

        var listed = await cluster.RunAsync("jobs", "list", "--json");
        Assert.Contains(listed.Json.GetProperty("jobs").EnumerateArray(), job => job.GetProperty("jobId").GetString() == jobId);

        var attached = await cluster.RunAsync("jobs", "attach", jobId, "--json");
        Assert.True(attached.ExitCode == 0, attached.ToString());
        var final = attached.JsonLines[^1];
        Assert.Equal("TRAIN_STATE_SUCCEEDED", final.GetProperty("state").GetString());
        Assert.Equal(2, final.GetProperty("workers").GetInt32());
        var version = final.GetProperty("registeredVersion").GetString()!;
        Assert.Equal("demo", final.GetProperty("registeredModel").GetString());

        var model = await cluster.RunAsync("models", "show", "demo", "--json");
        var registered = model.Json.GetProperty("versions").EnumerateArray().Single(entry => entry.GetProperty("version").GetString() == version);
        Assert.Equal(jobId, registered.GetProperty("sourceJob").GetString());
        Assert.Equal(final.GetProperty("evalLoss").GetDouble(), registered.GetProperty("metrics").GetProperty("eval_loss").GetDouble(), 6);

        await AssertPlotTracksTheReportedLossesAsync(jobId, [.. first.JsonLines, .. attached.JsonLines]);

        var promote = await cluster.RunAsync("models", "promote", "demo", version);
        Assert.True(promote.ExitCode == 0, promote.ToString());
        Assert.Contains("production", promote.Output);
        await AnswersFromAsync([version]);

        var canary = await cluster.RunAsync("models", "canary", "demo", "v1", "--percent", "50");
        Assert.True(canary.ExitCode == 0, canary.ToString());
        Assert.Contains("canary 50%", canary.Output);
        await AnswersFromAsync(["v1", version]);

        Assert.Equal(ExitCodes.Success, (await cluster.RunAsync("models", "canary", "demo", "--clear")).ExitCode);
        var rollback = await cluster.RunAsync("models", "rollback", "demo", "--json");
        Assert.Equal("v1", rollback.Json.GetProperty("productionVersion").GetString());
        await AnswersFromAsync(["v1"]);

        CliCommandTests.AssertFailure(await cluster.RunAsync("models", "delete", "demo", "v1"), ExitCodes.Failed, "v1");
        Assert.Equal(ExitCodes.Success, (await cluster.RunAsync("models", "archive", "demo", version)).ExitCode);
        var deleted = await cluster.RunAsync("models", "delete", "demo", version, "--json");
        Assert.DoesNotContain(deleted.Json.GetProperty("versions").EnumerateArray(), entry => entry.GetProperty("version").GetString() == version);
    }

    [Fact]
    public async Task A_cancelled_job_ends_cancelled_and_attach_says_so()
    {
        var ingest = await cluster.RunAsync("datasets", "upload", CorpusPath, "--name", "shakespeare", "--json");
        Assert.True(ingest.ExitCode == 0, ingest.ToString());
        var started = await cluster.RunAsync(["train", "--dataset", "shakespeare", "--model", "cancelled", "--steps", "100000", .. Tiny, "--detach", "--json"]);
        Assert.True(started.ExitCode == 0, started.ToString());
        var jobId = started.Json.GetProperty("jobId").GetString()!;

        var cancel = await cluster.RunAsync("jobs", "cancel", jobId, "--json");
        var attach = await cluster.RunAsync("jobs", "attach", jobId);
        var shown = await cluster.RunAsync("jobs", "show", jobId, "--json");

        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        CliCommandTests.AssertFailure(attach, ExitCodes.Failed, "cancelled");
        Assert.Equal("TRAIN_STATE_CANCELLED", shown.Json.GetProperty("status").GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_fine_tune_of_the_bundled_model_becomes_its_child_version_and_a_bad_init_from_is_refused()
    {
        var ingest = await cluster.RunAsync("datasets", "upload", CorpusPath, "--name", "shakespeare", "--json");
        Assert.True(ingest.ExitCode == 0, ingest.ToString());

        // No --model and no shape: demo's shape, and the result is a version of demo.
        var tuned = await cluster.RunAsync("train", "--dataset", "shakespeare", "--init-from", "demo:v1", "--workers", "2", "--steps", "3", "--batch-size", "2", "--window", "32", "--json");
        var unknown = await cluster.RunAsync("train", "--dataset", "shakespeare", "--init-from", "demo:v999");
        var malformed = await cluster.RunAsync("train", "--dataset", "shakespeare", "--init-from", "demo:bad name");
        var shown = await cluster.RunAsync("models", "show", "demo", "--json");
        var table = await cluster.RunAsync("models", "show", "demo");

        Assert.True(tuned.ExitCode == 0, tuned.ToString());
        var final = tuned.JsonLines[^1];
        Assert.Equal("TRAIN_STATE_SUCCEEDED", final.GetProperty("state").GetString());
        Assert.Equal("demo", final.GetProperty("registeredModel").GetString());
        Assert.Equal("v1", final.GetProperty("initFrom").GetProperty("version").GetString());
        var version = final.GetProperty("registeredVersion").GetString()!;
        var child = shown.Json.GetProperty("versions").EnumerateArray().Single(entry => entry.GetProperty("version").GetString() == version);
        Assert.Equal("v1", child.GetProperty("parentVersion").GetString());
        Assert.Equal(final.GetProperty("jobId").GetString(), child.GetProperty("sourceJob").GetString());
        Assert.Contains("parent", table.Output);
        CliCommandTests.AssertFailure(unknown, ExitCodes.Failed, "model 'demo' has no version 'v999'");
        CliCommandTests.AssertFailure(malformed, ExitCodes.Usage, "the --init-from version 'bad name' is not a valid name");

        // demo as the other tests expect it: v1 and what they register.
        Assert.Equal(ExitCodes.Success, (await cluster.RunAsync("models", "delete", "demo", version)).ExitCode);
    }

    /// <summary>Whether the JSON status lines so far show the job running at <paramref name="step"/> or later.</summary>
    private static bool IsRunningPastStep(string output, long step) =>
        output.Split('\n').Where(line => line.EndsWith('}')).Select(line => JsonDocument.Parse(line).RootElement).Any(status =>
            status.GetProperty("state").GetString() == "TRAIN_STATE_RUNNING"
            && long.Parse(status.GetProperty("step").GetString()!, CultureInfo.InvariantCulture) >= step);

    private static string CorpusPath => Path.Combine(ProcessRunner.RepositoryRoot, "data", "corpus", "tinyshakespeare.txt");

    /// <summary>The plot's train curve is the losses the Train stream reported, step by step.</summary>
    private async Task AssertPlotTracksTheReportedLossesAsync(string jobId, IReadOnlyList<JsonElement> statuses)
    {
        var output = Path.Combine(cluster.Scratch, "plots", jobId);
        var plot = await cluster.RunAsync("jobs", "plot", jobId, "--output", output, "--json");
        Assert.True(plot.ExitCode == 0, plot.ToString());

        var reported = statuses
            .Where(status => status.GetProperty("state").GetString() == "TRAIN_STATE_RUNNING" || status.GetProperty("state").GetString() == "TRAIN_STATE_SUCCEEDED")
            .Select(status => (Step: long.Parse(status.GetProperty("step").GetString()!, CultureInfo.InvariantCulture), Loss: status.GetProperty("loss").GetDouble()))
            .Where(point => point.Step > 0)
            .GroupBy(point => point.Step)
            .ToDictionary(group => group.Key, group => group.Last().Loss);
        var train = plot.Json.GetProperty("train").EnumerateArray()
            .Select(point => new LossPoint(point.GetProperty("step").GetInt64(), point.GetProperty("loss").GetDouble())).ToList();
        Assert.Equal(Steps, train[^1].Step);
        foreach (var point in train.Where(point => reported.ContainsKey(point.Step)))
        {
            Assert.Equal(reported[point.Step], point.Loss, 6);
        }

        // The stream reports changes as it polls, so it may skip steps; enough are shared to compare.
        Assert.True(train.Count(point => reported.ContainsKey(point.Step)) >= 5, "the stream and the history share too few steps");
        var png = plot.Json.GetProperty("png").GetString()!;
        var svg = plot.Json.GetProperty("svg").GetString()!;
        Assert.Equal((900, 500), PngFile.HeaderSize(png));
        using var bitmap = PngFile.Decode(png);
        Assert.True(PngFile.PixelsNear(bitmap, LossPlot.TrainColor) > 100);
        SvgCurve.AssertTracks(train, SvgCurve.Line(svg, LossPlot.TrainColor));
        Assert.True(SvgCurve.Markers(svg, LossPlot.EvalColor).Count >= Steps / 20);
    }

    /// <summary>Predicts until the answers come from exactly <paramref name="versions"/> (each seen, no other), after the switch.</summary>
    private async Task AnswersFromAsync(string[] versions)
    {
        var seen = await Poll.UntilAsync(async () =>
        {
            // While versions switch, a request may fail with Unavailable; it counts as not switched yet.
            var served = new List<string>();
            for (var i = 0; i < 24; i++)
            {
                var run = await cluster.RunAsync("predict", "KING:", "--max-tokens", "2", "--json");
                served.Add(run.ExitCode == 0 ? run.Json.GetProperty("modelVersion").GetString()! : $"failed: {run.Error}");
            }

            return served.Distinct().Order().ToArray();
        }, served => served.SequenceEqual(versions.Order()), Switch, TimeSpan.FromSeconds(1));
        Assert.Equal(versions.Order(), seen);
    }
}
