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

    /// <summary>
    /// <see cref="JsonElement.TryGetProperty(string, out JsonElement)"/> on an object, false for a
    /// value that is not one; like reading a string, looking a name up decodes the other names and
    /// throws for one that is not valid Unicode, which counts as the property not being found.
    /// </summary>
    public static bool TryGetProperty(JsonElement element, string name, out JsonElement value)
    {
        value = default;
        if (element.ValueKind != JsonValueKind.Object)
        {
            return false;
        }

        try
        {
            return element.TryGetProperty(name, out value);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
