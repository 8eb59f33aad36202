using System.Text;
using System.Text.Json;

namespace MsSwift.Inference.OpenAi;

/// <summary>
/// Renders chat messages into one prompt for a plain language model: each message on its own
/// line as "role: content", ending with "assistant:" for the model to continue.
/// </summary>
internal static class ChatPrompt
{
    private static readonly HashSet<string> Roles = ["system", "developer", "user", "assistant", "tool"];

    /// <summary>The prompt, or an error naming the offending message.</summary>
    public static (string? Prompt, string? Error) Render(IReadOnlyList<ChatMessage>? messages)
    {
        if (messages is null || messages.Count == 0)
        {
            return (null, "must contain at least one message");
        }

        var prompt = new StringBuilder();
        for (var i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not { } message)
            {
                return (null, $"[{i}] must be a message object with a role and content, got null");
            }

            var role = message.Role;
            if (role is null || !Roles.Contains(role))
            {
                return (null, $"[{i}].role must be one of {string.Join(", ", Roles)}, got '{role}'");
            }

            if (Text(message.Content) is not { } content)
            {
                return (null, $"[{i}].content must be a string of valid Unicode text or a list of text parts");
            }

            prompt.Append(role).Append(": ").Append(content).Append('\n');
        }

        return (prompt.Append("assistant:").ToString(), null);
    }

    private static string? Text(JsonElement? content) => content switch
    {
        { ValueKind: JsonValueKind.String } text => JsonText.StringOrNull(text),
        { ValueKind: JsonValueKind.Array } parts when parts.EnumerateArray().All(IsTextPart) =>
            string.Concat(parts.EnumerateArray().Select(part => JsonText.TryGetProperty(part, "text", out var text) ? JsonText.StringOrNull(text) : null)),
        _ => null,
    };

    private static bool IsTextPart(JsonElement part) =>
        JsonText.TryGetProperty(part, "type", out var type) && JsonText.StringOrNull(type) == "text"
        && JsonText.TryGetProperty(part, "text", out var text) && JsonText.StringOrNull(text) is not null;
}
