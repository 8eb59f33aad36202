using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Grpc.Core;

namespace MsSwift.Cli.Infrastructure;

/// <summary>
/// Turns what went wrong into the one line a user reads: what failed, why (the cluster's own
/// words: gRPC status detail or ProblemDetails), and what to do, with an exit code by kind.
/// </summary>
internal static class Failures
{
    public static CliException Describe(string operation, Exception error, GatewayConnection connection) => error switch
    {
        CliException known => known,
        RpcException { StatusCode: StatusCode.Unavailable } rpc when IsConnectFailure(rpc.Status.DebugException) =>
            Unreachable(operation, connection.Grpc, rpc.Status.DebugException!, "--grpc or MSSWIFT_GATEWAY_GRPC"),
        RpcException { StatusCode: StatusCode.Unauthenticated } rpc => BadKey(operation, rpc.Status.Detail),
        RpcException { StatusCode: StatusCode.PermissionDenied } rpc => MissingScope(operation, rpc.Status.Detail),
        RpcException rpc => new CliException($"{operation} failed: {Detail(rpc)} ({rpc.StatusCode})"),
        HttpRequestException http when http.StatusCode is null => Unreachable(operation, connection.Http, http, "--gateway or MSSWIFT_GATEWAY"),
        _ => new CliException($"{operation} failed: {error.Message}"),
    };

    /// <summary>A non-success HTTP answer as a <see cref="CliException"/>, with the ProblemDetails' title and detail.</summary>
    public static async Task<CliException> FromResponseAsync(string operation, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var reason = await ProblemAsync(response, cancellationToken);
        return response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => BadKey(operation, reason),
            HttpStatusCode.Forbidden => MissingScope(operation, reason),
            // The gateway's own (no backend) or a service's (a dependency down): either way, for now.
            HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout =>
                new CliException($"{operation} failed: the cluster cannot serve it right now ({(int)response.StatusCode}: {reason}); retry shortly, and check the cluster's log if it persists"),
            _ => new CliException($"{operation} failed: {reason} ({(int)response.StatusCode})"),
        };
    }

    /// <summary>Sends <paramref name="request"/> and fails with the answer's ProblemDetails unless it succeeds.</summary>
    public static async Task<HttpResponseMessage> EnsureSuccessAsync(
        this HttpClient http, string operation, HttpRequestMessage request, CancellationToken cancellationToken, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        var response = await http.SendAsync(request, completion, cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            throw await FromResponseAsync(operation, response, cancellationToken);
        }
    }

    private static CliException Unreachable(string operation, Uri address, Exception cause, string option) =>
        new($"{operation} failed: cannot reach the gateway at {address} ({Innermost(cause).Message}); start the cluster with ./build.sh run, or pass the right address with {option}",
            ExitCodes.Unreachable);

    private static CliException BadKey(string operation, string reason) =>
        new($"{operation} failed: the gateway refused the API key ({reason}); pass --api-key or set MSSWIFT_API_KEY (./build.sh run prints its development key)",
            ExitCodes.Unauthorized);

    private static CliException MissingScope(string operation, string reason) =>
        new($"{operation} failed: the API key does not allow it ({reason}); use a key with the needed scope", ExitCodes.Unauthorized);

    private static string Detail(RpcException rpc) => rpc.Status.Detail.Length > 0 ? rpc.Status.Detail : rpc.StatusCode.ToString();

    private static bool IsConnectFailure(Exception? error) =>
        error is HttpRequestException { StatusCode: null } || error?.InnerException is SocketException || error is SocketException;

    private static Exception Innermost(Exception error) => error.InnerException is { } inner ? Innermost(inner) : error;

    private static async Task<string> ProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            using var problem = JsonDocument.Parse(body);
            var root = problem.RootElement;
            var title = root.TryGetProperty("title", out var t) ? t.GetString() : null;
            var detail = root.TryGetProperty("detail", out var d) ? d.GetString() : null;
            var errors = root.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Object
                ? string.Join("; ", e.EnumerateObject().Select(field => $"{field.Name}: {string.Join(", ", field.Value.EnumerateArray().Select(value => value.GetString()))}"))
                : null;
            return string.Join(": ", new[] { title, detail, errors }.Where(part => !string.IsNullOrEmpty(part)));
        }
        catch (JsonException)
        {
            return body.Length is > 0 and < 300 ? body.Trim() : response.ReasonPhrase ?? "no detail";
        }
    }
}
