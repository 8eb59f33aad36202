using System.Text.Json;
using System.Text.Json.Serialization;
using Google.Protobuf;

namespace MsSwift.Contracts;

/// <summary>
/// System.Text.Json settings for JSON APIs that embed protobuf messages: each message is written
/// in its protobuf JSON mapping (exactly what <see cref="JsonFormatter.Default"/> writes for it
/// alone), so a list or summary carries the same shapes as the single-message endpoints.
/// </summary>
public static class ProtobufJson
{
    /// <summary>
    /// Web defaults (camelCase) plus protobuf messages. Non-finite numbers (a diverged loss is NaN)
    /// are written as the strings "NaN" and "Infinity", as protobuf's JSON mapping writes them,
    /// instead of failing the response.
    /// </summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerOptions.Web)
    {
        NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new MessageConverterFactory() },
    };

    private sealed class MessageConverterFactory : JsonConverterFactory
    {
        public override bool CanConvert(Type typeToConvert) => typeof(IMessage).IsAssignableFrom(typeToConvert);

        public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
            (JsonConverter)Activator.CreateInstance(typeof(MessageConverter<>).MakeGenericType(typeToConvert))!;
    }

    private sealed class MessageConverter<T> : JsonConverter<T> where T : IMessage<T>, new()
    {
        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            using var document = JsonDocument.ParseValue(ref reader);
            return JsonParser.Default.Parse<T>(document.RootElement.GetRawText());
        }

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
            writer.WriteRawValue(JsonFormatter.Default.Format(value), skipInputValidation: true);
    }
}
