using System.Text.Json;
using Google.Protobuf;

namespace MsSwift.Cli.Infrastructure;

/// <summary>The JSON the CLI prints with --json: protobuf's JSON mapping for the cluster's messages, camelCase for its own.</summary>
internal static class CliJson
{
    // Defaults included: a script reading "step" must find 0, not a missing field.
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    public static string Format(IMessage message) => Formatter.Format(message);

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    public static string Error(CliException failure) =>
        Serialize(new { error = new { message = failure.Message, exitCode = failure.ExitCode } });
}
