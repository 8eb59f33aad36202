using System.Text.Json;
using MsSwift.Contracts;

namespace MsSwift.Cli.Infrastructure;

/// <summary>
/// Where the gateway is and which key to send, from (first wins) the flags, the environment
/// (<c>MSSWIFT_GATEWAY</c>, <c>MSSWIFT_GATEWAY_GRPC</c>, <c>MSSWIFT_API_KEY</c>) and the local run's
/// connection file. The file's development key is only ever sent to the file's own gateway: a
/// user pointing the CLI elsewhere must not leak an all-scopes key to another host.
/// </summary>
internal sealed record GatewayConnection(Uri Http, Uri Grpc, string? ApiKey)
{
    public const string GatewayVariable = "MSSWIFT_GATEWAY";
    public const string GrpcVariable = "MSSWIFT_GATEWAY_GRPC";
    public const string ApiKeyVariable = "MSSWIFT_API_KEY";

    /// <summary>The gateway's gRPC port when only its HTTP address is known (the AppHost's and the Kubernetes Service's).</summary>
    public const int DefaultGrpcPort = 8081;

    public static GatewayConnection Resolve(GatewaySettings settings, CliEnvironment environment)
    {
        var httpText = settings.Gateway ?? environment.Variable(GatewayVariable);
        var grpcText = settings.Grpc ?? environment.Variable(GrpcVariable);
        var keyText = settings.ApiKey ?? environment.Variable(ApiKeyVariable);
        // The file is read only for what flags and environment leave open, so a broken file never
        // stands in the way of a fully specified command.
        var local = httpText is null || grpcText is null || keyText is null ? ReadLocalCluster(environment) : null;

        var http = ParseAddress(httpText ?? local?.Http ?? throw new CliException(
            "no gateway address: start the local cluster with ./build.sh run (it writes the address for the CLI), or pass --gateway URL or set MSSWIFT_GATEWAY",
            ExitCodes.Usage), "--gateway");
        var localHttp = local is not null && SameAuthority(http, local.Http);
        var grpc = grpcText is not null ? ParseAddress(grpcText, "--grpc")
            : localHttp ? ParseAddress(local!.Grpc, "the connection file's grpc")
            : new UriBuilder(http) { Port = DefaultGrpcPort }.Uri;
        // The development key goes only where the file says that cluster is, on both ports.
        var key = keyText ?? (localHttp && SameAuthority(grpc, local!.Grpc) ? local.ApiKey : null);
        return new GatewayConnection(http, grpc, string.IsNullOrEmpty(key) ? null : key);
    }

    private static LocalClusterConnection? ReadLocalCluster(CliEnvironment environment)
    {
        var path = environment.Variable(LocalClusterFile.EnvironmentVariable) is { Length: > 0 } configured ? configured : LocalClusterFile.DefaultPath;
        try
        {
            return LocalClusterFile.Read(path);
        }
        catch (Exception error) when (error is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new CliException($"the local cluster's connection file {path} cannot be read ({error.Message}): restart ./build.sh run, or delete the file and pass --gateway", ExitCodes.Usage);
        }
    }

    private static Uri ParseAddress(string text, string option) =>
        Uri.TryCreate(text, UriKind.Absolute, out var address) && address.Scheme is "http" or "https"
            ? address
            : throw new CliException($"{option} must be an http:// or https:// address such as http://localhost:8080, got '{text}'", ExitCodes.Usage);

    private static bool SameAuthority(Uri address, string? other) =>
        other is not null && Uri.TryCreate(other, UriKind.Absolute, out var parsed)
        && Uri.Compare(address, parsed, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;
}
