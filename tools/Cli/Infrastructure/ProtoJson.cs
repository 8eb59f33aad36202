using Google.Protobuf;

namespace MsSwift.Cli.Infrastructure;

/// <summary>Reads the services' JSON answers (protobuf's JSON mapping) into their messages.</summary>
internal static class ProtoJson
{
    // A newer server may add fields: an older CLI keeps working.
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    public static T Parse<T>(string json) where T : IMessage<T>, new() => Parser.Parse<T>(json);

    public static async Task<string> GetStringAsync(this GatewayClient gateway, string operation, string path, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        using var response = await gateway.Http.EnsureSuccessAsync(operation, request, cancellationToken);
        return await response.Content.ReadAsStringAsync(cancellationToken);
    }
}
