using System.Text.Json;

// "object" is a field of OpenAI's wire format, so the records have an Object property.
#pragma warning disable CA1720

namespace MsSwift.Inference.OpenAi;

// The subset of OpenAI's API this service speaks. Property names are written snake_case
// (see AddApplicationServices); fields a client may send in several shapes are JsonElement.

public sealed record CompletionRequest(
    string? Model, JsonElement? Prompt, int? MaxTokens, double? Temperature, double? TopP, int? TopK,
    JsonElement? Stop, long? Seed, bool? Stream, int? N);

public sealed record ChatCompletionRequest(
    string? Model, List<ChatMessage>? Messages, int? MaxTokens, int? MaxCompletionTokens, double? Temperature, double? TopP,
    int? TopK, JsonElement? Stop, long? Seed, bool? Stream, StreamOptions? StreamOptions, int? N);

public sealed record ChatMessage(string? Role, JsonElement? Content);

public sealed record StreamOptions(bool? IncludeUsage);

public sealed record CompletionUsage(int PromptTokens, int CompletionTokens, int TotalTokens);

public sealed record CompletionChoice(string Text, int Index, object? Logprobs, string? FinishReason);

public sealed record CompletionResponse(string Id, string Object, long Created, string Model, IReadOnlyList<CompletionChoice> Choices, CompletionUsage? Usage);

public sealed record ChatResponseMessage(string Role, string Content);

public sealed record ChatChoice(int Index, ChatResponseMessage Message, string? FinishReason);

public sealed record ChatCompletionResponse(string Id, string Object, long Created, string Model, IReadOnlyList<ChatChoice> Choices, CompletionUsage Usage);

public sealed record ChatDelta(string? Role, string? Content);

public sealed record ChatChunkChoice(int Index, ChatDelta Delta, string? FinishReason);

public sealed record ChatCompletionChunk(string Id, string Object, long Created, string Model, IReadOnlyList<ChatChunkChoice> Choices, CompletionUsage? Usage);

public sealed record ModelEntry(string Id, string Object, long Created, string OwnedBy);

public sealed record ModelList(string Object, IReadOnlyList<ModelEntry> Data);

public sealed record ErrorBody(string Message, string Type, string? Param, string? Code);

public sealed record ErrorResponse(ErrorBody Error);
