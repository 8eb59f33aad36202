using System.Text;
using MsSwift.Cli.Infrastructure;
using MsSwift.Testing;

namespace MsSwift.Cli.Tests;

/// <summary>Each command's happy path and error paths against the real running cluster, through the gateway only.</summary>
[Collection(LocalClusterGroup.Name)]
public sealed class CliCommandTests(LocalCluster cluster)
{
    private static readonly string[] CommonWords = ["the", "and", "to", "of", "i", "you", "my", "a", "that", "is", "in", "not", "me", "be", "with", "your", "his", "it", "for", "this", "he", "thou", "thy", "what", "so", "have", "will", "our", "shall", "but"];

    [Theory]
    [InlineData("predict")]
    [InlineData("chat")]
    [InlineData("datasets", "upload")]
    [InlineData("datasets", "list")]
    [InlineData("train")]
    [InlineData("jobs", "attach")]
    [InlineData("jobs", "plot")]
    [InlineData("models", "canary")]
    [InlineData("models", "rollback")]
    public async Task Every_command_has_help_with_examples(params string[] command)
    {
        var run = await cluster.RunAsync([.. command, "--help"]);

        Assert.Equal(ExitCodes.Success, run.ExitCode);
        Assert.Contains("EXAMPLES:", run.Output);
        Assert.Contains("--json", run.Output);
    }

    [Fact]
    public async Task A_fresh_cluster_serves_the_bundled_model_which_answers_in_recognisable_text()
    {
        var models = await cluster.RunAsync("models", "list", "--json");
        var table = await cluster.RunAsync("models", "show", "demo");
        var answer = await Poll.UntilAsync(() => cluster.RunAsync("predict", "ROMEO:", "--max-tokens", "120", "--json"), run => run.ExitCode == 0, TimeSpan.FromSeconds(60));

        Assert.Equal(ExitCodes.Success, models.ExitCode);
        var demo = models.Json.GetProperty("models").EnumerateArray().Single(model => model.GetProperty("name").GetString() == "demo");
        Assert.Equal("v1", demo.GetProperty("productionVersion").GetString());
        // The seed keeps the metrics of the job that trained it.
        Assert.True(demo.GetProperty("versions")[0].GetProperty("metrics").GetProperty("eval_loss").GetDouble() is > 0 and < 3);
        Assert.Contains("production", table.Output);
        Assert.Contains("v1", table.Output);
        Assert.True(answer.ExitCode == 0, answer.ToString());
        Assert.Equal("v1", answer.Json.GetProperty("modelVersion").GetString());
        AssertRecognisableText(answer.Json.GetProperty("text").GetString()!);
    }

    [Fact]
    public async Task Predict_streams_the_same_text_as_json_lines_and_plain_text()
    {
        string[] predict = ["predict", "JULIET:", "--max-tokens", "40", "--temperature", "0.8", "--top-k", "20", "--seed", "5"];
        var whole = await cluster.RunAsync([.. predict, "--json"]);
        var streamed = await cluster.RunAsync([.. predict, "--stream", "--json"]);
        var plain = await cluster.RunAsync([.. predict, "--stream"]);

        Assert.True(whole.ExitCode == 0, whole.ToString());
        var text = whole.Json.GetProperty("text").GetString()!;
        var lines = streamed.JsonLines;
        Assert.True(lines.Count > 2, streamed.ToString());
        // Pieces first, then the result with the whole text: the same seed gives the same answer.
        Assert.Equal(text, string.Concat(lines.SkipLast(1).Select(line => line.GetProperty("text").GetString())));
        Assert.Equal(text, lines[^1].GetProperty("text").GetString());
        Assert.Equal(text, plain.Output.TrimEnd('\n'));
        Assert.Contains("finished: ", plain.Error);
    }

    [Fact]
    public async Task Failures_print_one_line_saying_what_to_do_and_exit_by_kind()
    {
        var unknownModel = await cluster.RunAsync("predict", "hi", "--model", "no-such-model");
        var unknownVersion = await cluster.RunAsync("models", "promote", "demo", "v999", "--json");
        var wrongKey = await cluster.RunAsync("models", "list", "--api-key", "not-a-valid-key-0123456789");
        var down = await cluster.RunAsync("models", "list", "--gateway", $"http://127.0.0.1:{FreeTcpPort.Next()}", "--json");
        var downHttp = await cluster.RunAsync("datasets", "list", "--gateway", $"http://127.0.0.1:{FreeTcpPort.Next()}");
        var badFlag = await cluster.RunAsync("models", "list", "--no-such-flag");
        var badAddress = await cluster.RunAsync("models", "list", "--gateway", "localhost:8080");
        var noGateway = await cluster.RunAsync(null, ["models", "list"],
            variables: new() { [MsSwift.Contracts.LocalClusterFile.EnvironmentVariable] = Path.Combine(cluster.Scratch, "absent.json") });

        // The services' own words, not just the CLI's description of the operation.
        AssertFailure(unknownModel, ExitCodes.Failed, "unknown model 'no-such-model'; available models:");
        AssertFailure(unknownVersion, ExitCodes.Failed, "model 'demo' has no version 'v999'");
        Assert.Equal(ExitCodes.Failed, unknownVersion.Json.GetProperty("error").GetProperty("exitCode").GetInt32());
        AssertFailure(wrongKey, ExitCodes.Unauthorized, "--api-key");
        AssertFailure(down, ExitCodes.Unreachable, "./build.sh run");
        Assert.Contains("cannot reach the gateway", down.Json.GetProperty("error").GetProperty("message").GetString());
        AssertFailure(downHttp, ExitCodes.Unreachable, "--gateway");
        AssertFailure(badFlag, ExitCodes.Usage, "--help");
        AssertFailure(badAddress, ExitCodes.Usage, "http://");
        AssertFailure(noGateway, ExitCodes.Usage, "./build.sh run");
    }

    [Fact]
    public async Task Datasets_upload_past_the_gateway_body_limit_then_list_and_show()
    {
        // 6 MiB: over the gateway's 4 MiB general limit; /datasets has its own.
        var file = Path.Combine(cluster.Scratch, "big.txt");
        await File.WriteAllTextAsync(file, BigCorpus(6 * 1024 * 1024));

        var upload = await cluster.RunAsync("datasets", "upload", file, "--name", "big-corpus", "--json");
        var list = await cluster.RunAsync("datasets", "list", "--json");
        var show = await cluster.RunAsync("datasets", "show", "big-corpus");
        var unknown = await cluster.RunAsync("datasets", "show", "no-such-dataset");
        var missingFile = await cluster.RunAsync("datasets", "upload", Path.Combine(cluster.Scratch, "absent.txt"));
        var badName = await cluster.RunAsync("datasets", "upload", file, "--name", "../etc");

        Assert.True(upload.ExitCode == 0, upload.ToString());
        Assert.True(long.Parse(upload.Json.GetProperty("trainTokens").GetString()!, System.Globalization.CultureInfo.InvariantCulture) > 5_000_000);
        Assert.Contains(list.Json.GetProperty("datasets").EnumerateArray(), dataset => dataset.GetProperty("name").GetString() == "big-corpus");
        Assert.Contains("big-corpus", show.Output);
        AssertFailure(unknown, ExitCodes.Failed, "Unknown dataset");
        AssertFailure(missingFile, ExitCodes.Usage, "absent.txt");
        AssertFailure(badName, ExitCodes.Usage, "not a valid name");
    }

    [Fact]
    public async Task Chat_keeps_the_history_and_ends_at_end_of_input()
    {
        var run = await cluster.RunAsync("Good morrow.\n\nWhat news?\n", ["chat", "--max-tokens", "20", "--json"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        var turns = run.JsonLines;
        // Two turns: the blank line is skipped; each answer came from the model.
        Assert.Equal([1, 2], turns.Select(turn => turn.GetProperty("turn").GetInt32()));
        Assert.All(turns, turn => Assert.Equal("assistant", turn.GetProperty("role").GetString()));
        Assert.All(turns, turn => Assert.NotEmpty(turn.GetProperty("content").GetString()!));
    }

    [Fact]
    public async Task Unknown_jobs_are_refused_clearly()
    {
        var attach = await cluster.RunAsync("jobs", "attach", "job-0123456789ab");
        var cancel = await cluster.RunAsync("jobs", "cancel", "job-0123456789ab");
        var plot = await cluster.RunAsync("jobs", "plot", "job-0123456789ab");

        var malformed = await cluster.RunAsync("jobs", "show", "..");

        AssertFailure(attach, ExitCodes.Failed, "Unknown job");
        AssertFailure(cancel, ExitCodes.Failed, "no training job 'job-0123456789ab'");
        Assert.Contains("NotFound", cancel.Error);
        AssertFailure(plot, ExitCodes.Failed, "Unknown job");
        AssertFailure(malformed, ExitCodes.Usage, "not a valid name");
    }

    internal static void AssertFailure(CliRun run, int exitCode, string hint)
    {
        Assert.True(run.ExitCode == exitCode, run.ToString());
        var lines = run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one error line: {run}");
        Assert.StartsWith("msswift: ", lines[0]);
        Assert.Contains(hint, lines[0]);
    }

    /// <summary>Text of a trained model, not a random one's bytes: printable, with common English words.</summary>
    private static void AssertRecognisableText(string text)
    {
        var printable = text.Count(character => char.IsAsciiLetter(character) || " \n,.;:'!?-".Contains(character));
        Assert.True(printable >= 0.95 * text.Length, $"not text: {text}");
        var words = text.ToLowerInvariant().Split([' ', '\n', ',', '.', ';', ':', '!', '?'], StringSplitOptions.RemoveEmptyEntries);
        Assert.True(words.Count(CommonWords.Contains) >= 3, $"no English in: {text}");
    }

    private static string BigCorpus(int bytes)
    {
        var text = new StringBuilder(bytes + 100);
        for (var paragraph = 0; text.Length < bytes; paragraph++)
        {
            text.Append("Paragraph ").Append(paragraph).Append(": now is the winter of our discontent, made glorious summer.\n\n");
        }

        return text.ToString();
    }
}
