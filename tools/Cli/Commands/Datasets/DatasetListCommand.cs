using System.Text.Json;
using MsSwift.Cli.Infrastructure;
using Spectre.Console;
using MsSwift.Contracts.Data.V1;
using Spectre.Console.Cli;

namespace MsSwift.Cli.Commands.Datasets;

/// <summary><c>msswift datasets list</c>: every dataset's latest version.</summary>
internal sealed class DatasetListCommand(CliEnvironment environment) : GatewayCommand<GatewaySettings>(environment)
{
    protected override string Describe(GatewaySettings settings) => "list datasets";

    protected override async Task<int> RunAsync(GatewayClient gateway, GatewaySettings settings, CancellationToken cancellationToken)
    {
        using var answer = JsonDocument.Parse(await gateway.GetStringAsync(Describe(settings), "datasets", cancellationToken));
        var datasets = answer.RootElement.GetProperty("datasets").EnumerateArray()
            .Select(dataset => ProtoJson.Parse<DatasetInfo>(dataset.GetRawText()))
            .ToList();
        if (settings.Json)
        {
            Environment.WriteRawLine($"{{\"datasets\":[{string.Join(",", datasets.Select(CliJson.Format))}]}}");
        }
        else if (datasets.Count == 0)
        {
            Environment.Console.MarkupLine("No datasets yet. Upload one: [bold]msswift datasets upload FILE[/]");
        }
        else
        {
            Environment.Console.Write(DatasetTable.Of(datasets));
        }

        return ExitCodes.Success;
    }
}

internal sealed class DatasetShowSettings : GatewaySettings
{
    [CommandArgument(0, "<NAME>")]
    public string Name { get; set; } = "";

    [CommandArgument(1, "[VERSION]")]
    [System.ComponentModel.Description("A version (default: the latest)")]
    public string? Version { get; set; }

    public override ValidationResult Validate() => NameRules.Check((Name, "the dataset"), (Version, "the version"));
}

/// <summary><c>msswift datasets show NAME [VERSION]</c>: one dataset's ingest report.</summary>
internal sealed class DatasetShowCommand(CliEnvironment environment) : GatewayCommand<DatasetShowSettings>(environment)
{
    protected override string Describe(DatasetShowSettings settings) => $"show dataset '{settings.Name}'";

    protected override async Task<int> RunAsync(GatewayClient gateway, DatasetShowSettings settings, CancellationToken cancellationToken)
    {
        var path = $"datasets/{Uri.EscapeDataString(settings.Name)}" + (settings.Version is { } version ? $"/{Uri.EscapeDataString(version)}" : "");
        var dataset = ProtoJson.Parse<DatasetInfo>(await gateway.GetStringAsync(Describe(settings), path, cancellationToken));
        if (settings.Json)
        {
            Environment.WriteRawLine(CliJson.Format(dataset));
            return ExitCodes.Success;
        }

        Environment.Console.Write(DatasetTable.Of([dataset]));
        DatasetTable.WriteMalformed(Environment.Console, dataset);
        return ExitCodes.Success;
    }
}
