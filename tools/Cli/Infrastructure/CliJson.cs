using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Google.Protobuf;

namespace MsSwift.Cli.Infrastructure;

/// <summary>The JSON the CLI prints with --json: protobuf's JSON mapping for the cluster's messages, camelCase for its own.</summary>
internal static class CliJson
{
    // Defaults included: a script reading "step" must find 0, not a missing field.
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));
    // A diverging job reports NaN losses; they print as "NaN" instead of failing the command.
    // Relaxed escaping: text stays readable ("it's", not "it\u0027s"); the output is not embedded in HTML.
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Compact (protobuf's formatter puts a space after each colon), so a line is one greppable document.</summary>
    public static string Format(IMessage message)
    {
        using var document = JsonDocument.Parse(Formatter.Format(message));
        return JsonSerializer.Serialize(document.RootElement, Options);
    }

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    public static string Error(CliException failure) =>
        Serialize(new { error = new { message = failure.Message, exitCode = failure.ExitCode } });
}
