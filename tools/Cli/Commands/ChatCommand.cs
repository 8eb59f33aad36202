using System.ComponentModel;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MsSwift.Cli.Infrastructure;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MsSwift.Cli.Commands;

internal sealed class ChatSettings : GenerationSettings
{
    [CommandOption("--system <TEXT>")]
    [Description("A system message that starts the conversation")]
    public string? System { get; set; }
}

/// <summary>
/// <c>msswift chat</c>: a conversation over the OpenAI-compatible chat API (streamed), which
/// keeps the history client-side as OpenAI clients do and sends it whole each turn. Ctrl+D ends.
/// </summary>
internal sealed class ChatCommand(CliEnvironment environment) : GatewayCommand<ChatSettings>(environment)
{
    private static readonly JsonSerializerOptions Wire = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    // Without a stop, a plain language model goes on to write the user's next line too.
    private static readonly string[] DefaultStop = ["\nuser:"];

    protected override string Describe(ChatSettings settings) => $"chat with {settings.Model ?? "the default model"}";

    protected override async Task<int> RunAsync(GatewayClient gateway, ChatSettings settings, CancellationToken cancellationToken)
    {
        var history = new List<Message>();
        if (settings.System is { Length: > 0 } system)
        {
            history.Add(new Message("system", system));
        }

        if (!settings.Json)
        {
            Environment.Console.MarkupLine("[grey]Chatting with {0}. Ctrl+D ends.[/]", Markup.Escape(ModelName(settings) ?? "the default model"));
        }

        while (true)
        {
            if (!settings.Json)
            {
                Environment.Console.Markup("[bold green]you>[/] ");
            }

            // Console input ignores the token: WaitAsync lets Ctrl+C end the prompt anyway.
            if (await Environment.Input.ReadLineAsync(cancellationToken).AsTask().WaitAsync(cancellationToken) is not { } line)
            {
                if (!settings.Json)
                {
                    Environment.WriteRawLine("");
                }

                return ExitCodes.Success;
            }

            if (line.Trim().Length == 0)
            {
                continue;
            }

            history.Add(new Message("user", line));
            var answer = await AnswerAsync(gateway, settings, history, cancellationToken);
            history.Add(new Message("assistant", answer));
            if (settings.Json)
            {
                Environment.WriteRawLine(CliJson.Serialize(new { role = "assistant", content = answer, turn = history.Count(message => message.Role == "user") }));
            }
        }
    }

    private async Task<string> AnswerAsync(GatewayClient gateway, ChatSettings settings, List<Message> history, CancellationToken cancellationToken)
    {
        var body = new Request(ModelName(settings), history, settings.MaxTokens ?? 128, settings.Temperature, settings.TopP, settings.TopK,
            settings.Stop.Length > 0 ? settings.Stop : DefaultStop, settings.Seed, Stream: true);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = JsonContent.Create(body, options: Wire) };
        using var response = await gateway.Http.EnsureSuccessAsync("chat", request, cancellationToken, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        if (!settings.Json)
        {
            Environment.Console.Markup("[bold blue]model>[/]");
        }

        var answer = new StringBuilder();
        var done = false;
        // Server-sent events: "data: {chunk}" lines, ending with "data: [DONE]".
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            // SSE: "data:" with an optional space; other fields and comments are not ours.
            if (!line.StartsWith("data:", StringComparison.Ordinal))
            {
                continue;
            }

            var data = line["data:".Length..].TrimStart(' ');
            if (data == "[DONE]")
            {
                done = true;
                break;
            }

            using var chunk = JsonDocument.Parse(data);
            if (chunk.RootElement.TryGetProperty("error", out var error))
            {
                throw new CliException($"chat failed: {error.GetProperty("message").GetString()}");
            }

            foreach (var choice in chunk.RootElement.GetProperty("choices").EnumerateArray())
            {
                if (choice.GetProperty("delta").TryGetProperty("content", out var content) && content.GetString() is { } piece)
                {
                    answer.Append(piece);
                    if (!settings.Json)
                    {
                        Environment.WriteRaw(piece);
                        Environment.Console.Profile.Out.Writer.Flush();
                    }
                }
            }
        }

        if (!done)
        {
            throw new CliException("chat failed: the answer stream ended before [DONE] (the connection broke); ask again");
        }

        if (!settings.Json)
        {
            Environment.WriteRawLine("");
        }

        return answer.ToString();
    }

    /// <summary>OpenAI's model field: "name" (production) or "name:version".</summary>
    private static string? ModelName(ChatSettings settings) =>
        settings.ModelVersion is { Length: > 0 } version ? $"{settings.Model ?? "demo"}:{version}" : settings.Model;

    private sealed record Message(string Role, string Content);

    private sealed record Request(
        string? Model, IReadOnlyList<Message> Messages, int MaxTokens, double? Temperature, double? TopP, int? TopK,
        IReadOnlyList<string> Stop, long? Seed, bool Stream);
}
