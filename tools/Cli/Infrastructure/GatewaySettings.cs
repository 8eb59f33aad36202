using System.ComponentModel;
using Spectre.Console.Cli;

namespace MsSwift.Cli.Infrastructure;

/// <summary>Options every command has: where the gateway is, the key, and machine-readable output.</summary>
internal class GatewaySettings : CommandSettings
{
    [CommandOption("--gateway <URL>")]
    [Description("The gateway's HTTP address. Default: $MSSWIFT_GATEWAY, else the local run's (its connection file)")]
    public string? Gateway { get; set; }

    [CommandOption("--grpc <URL>")]
    [Description("The gateway's gRPC address. Default: $MSSWIFT_GATEWAY_GRPC, else the local run's, else the HTTP address's host on port 8081")]
    public string? Grpc { get; set; }

    [CommandOption("--api-key <KEY>")]
    [Description("The API key. Default: $MSSWIFT_API_KEY, else the local run's development key (only for the local run's gateway)")]
    public string? ApiKey { get; set; }

    [CommandOption("--json")]
    [Description("Print JSON (one document, or one per line for streams) instead of text and tables")]
    public bool Json { get; set; }
}
