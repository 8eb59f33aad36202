using System.ComponentModel;
using MsSwift.Cli.Infrastructure;
using MsSwift.Contracts.Data.V1;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MsSwift.Cli.Commands.Datasets;

internal sealed class DatasetUploadSettings : GatewaySettings
{
    [CommandArgument(0, "<FILE>")]
    [Description("Text (documents separated by blank lines) or JSON lines with a \"text\" field")]
    public string File { get; set; } = "";

    [CommandOption("--name <NAME>")]
    [Description("The dataset's name (default: the file's name without extension)")]
    public string? Name { get; set; }

    [CommandOption("--format <FORMAT>")]
    [Description("text or jsonl (default: jsonl for .jsonl files, else text)")]
    public string? Format { get; set; }

    [CommandOption("--tokenizer <TOKENIZER>")]
    [Description("byte or gpt2 (default byte)")]
    public string Tokenizer { get; set; } = "byte";

    [CommandOption("--validation-percent <PERCENT>")]
    [Description("Share of documents held out for evaluation (default 10)")]
    public int ValidationPercent { get; set; } = 10;

    public string DatasetName => Name ?? Path.GetFileNameWithoutExtension(File);

    public override ValidationResult Validate() =>
        !System.IO.File.Exists(File) ? ValidationResult.Error($"no such file: {File} (uploads read a regular file)")
        : NameRules.Check((DatasetName, "the dataset name (--name, or the file's name)"));
}

/// <summary>
/// <c>msswift datasets upload FILE</c>: streams the file to the data service through the gateway,
/// which lets <c>/datasets</c> bodies past its general body limit (up to the data service's
/// <c>Data:MaxUploadBytes</c>), so a file of any size up to that goes in one request.
/// </summary>
internal sealed class DatasetUploadCommand(CliEnvironment environment) : GatewayCommand<DatasetUploadSettings>(environment)
{
    protected override string Describe(DatasetUploadSettings settings) => $"upload {settings.File} as dataset '{settings.DatasetName}'";

    protected override async Task<int> RunAsync(GatewayClient gateway, DatasetUploadSettings settings, CancellationToken cancellationToken)
    {
        var format = settings.Format ?? (settings.File.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ? "jsonl" : "text");
        var path = $"datasets/{Uri.EscapeDataString(settings.DatasetName)}?format={Uri.EscapeDataString(format)}" +
            $"&tokenizer={Uri.EscapeDataString(settings.Tokenizer)}&validation_percent={settings.ValidationPercent}";
        await using var file = File.OpenRead(settings.File);
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StreamContent(file) };
        request.Content.Headers.ContentType = new("text/plain") { CharSet = "utf-8" };

        var json = await WithSpinnerAsync(settings, $"uploading {file.Length:N0} bytes", async () =>
        {
            using var response = await gateway.Http.EnsureSuccessAsync(Describe(settings), request, cancellationToken);
            return await response.Content.ReadAsStringAsync(cancellationToken);
        });
        var dataset = ProtoJson.Parse<DatasetInfo>(json);
        if (settings.Json)
        {
            Environment.WriteRawLine(CliJson.Format(dataset));
            return ExitCodes.Success;
        }

        Environment.Console.Write(DatasetTable.Of([dataset]));
        DatasetTable.WriteMalformed(Environment.Console, dataset);
        Environment.Console.MarkupLine("Next: [bold]msswift train --dataset {0}[/]", Markup.Escape(dataset.Name));
        return ExitCodes.Success;
    }

    private Task<T> WithSpinnerAsync<T>(GatewaySettings settings, string status, Func<Task<T>> work) =>
        settings.Json || !Environment.Console.Profile.Capabilities.Interactive
            ? work()
            : Environment.Console.Status().StartAsync(status, _ => work());
}
