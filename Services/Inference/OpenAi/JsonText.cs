using System.Text.Json;

namespace MsSwift.Inference.OpenAi;

/// <summary>
/// Text out of a field read lazily as <see cref="JsonElement"/>: System.Text.Json checks the
/// text only when it is taken out, and throws for invalid UTF-8 or an escaped lone surrogate.
/// </summary>
internal static class JsonText
{
    /// <summary>The string, or null when the element is not a string or its text is not valid Unicode.</summary>
    public static string? StringOrNull(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        try
        {
            return element.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }
}
