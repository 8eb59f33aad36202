namespace MsSwift.Modeling.Generation;

public enum FinishReason
{
    /// <summary>MaxNewTokens were generated.</summary>
    Length,

    /// <summary>A stop sequence appeared.</summary>
    Stop,

    /// <summary>The model produced its end-of-text token.</summary>
    EndOfText,

    /// <summary>The sequence reached the model's context length.</summary>
    ContextFull,
}

/// <summary>A prompt (token ids) and how to continue it.</summary>
/// <param name="Prompt">The prompt's token ids.</param>
/// <param name="Options">How to continue it.</param>
/// <param name="PrefixScope">
/// Who may share this prompt's cached prefix: only requests of the same scope (the serving
/// service passes the caller, so one API key cannot time whether another sent a prompt);
/// null, every request without a scope.
/// </param>
public sealed record GenerationRequest(IReadOnlyList<int> Prompt, GenerationOptions Options, string? PrefixScope = null);

/// <param name="Tokens">Generated token ids (the prompt excluded; a stop sequence's tokens included).</param>
/// <param name="Text">Decoded generated text, cut before the stop sequence when one ended it.</param>
/// <param name="FinishReason">Why generation ended.</param>
/// <param name="PromptTokens">Tokens in the prompt (for usage accounting).</param>
public sealed record GenerationResult(IReadOnlyList<int> Tokens, string Text, FinishReason FinishReason, int PromptTokens);
