using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MsSwift.Contracts.Data.V1;
using MsSwift.Modeling.Tokenizers;

namespace MsSwift.Data.Datasets;

public enum RecordFormat
{
    /// <summary>Plain text: documents are separated by blank lines.</summary>
    Text,

    /// <summary>One JSON object per line with the document in a string field (default <c>text</c>).</summary>
    Jsonl,
}

/// <summary>How to turn uploaded records into a dataset.</summary>
public sealed record IngestOptions(RecordFormat Format, string Tokenizer, int ValidationPercent, string TextField = "text");

/// <summary>
/// Turns records into a dataset: parse (malformed records are counted with their line and reason,
/// never silently dropped), normalise (Unicode NFC, LF line ends, trimmed), drop exact duplicates,
/// split train/validation by each document's hash (stable across re-ingests), tokenize, and hash
/// the content into the dataset's version. Streamed: tokens go to the split's stream a chunk at
/// a time as documents are read, so memory holds one chunk per split and one 32-byte digest per
/// distinct document (<see cref="DocumentDigest"/>), never the dataset; every count is 64-bit.
/// </summary>
public static class DatasetBuilder
{
    private const int MaxExamples = 10;

    /// <summary>
    /// The longest document (a plain-text paragraph or a JSONL line) ingested, in characters: about
    /// four times the complete works of Shakespeare. Normalising and tokenizing copy a document a few
    /// times, so this bounds what one record of an upload can hold in memory; a longer one is counted
    /// as malformed.
    /// </summary>
    public const int MaxDocumentChars = 4 << 20;

    /// <summary>Reads <paramref name="input"/> to the end, writing each split's tokens to its stream; the report (with its version).</summary>
    public static async Task<DatasetInfo> BuildAsync(
        string name, TextReader input, IngestOptions options, Stream trainTokens, Stream validationTokens, int chunkTokens, CancellationToken cancellationToken)
    {
        var tokenizer = TokenizerRegistry.Create(options.Tokenizer);
        var separator = Separator(tokenizer);
        var info = new DatasetInfo { Name = name, Tokenizer = tokenizer.Id, VocabSize = tokenizer.VocabSize, ValidationPercent = options.ValidationPercent };
        var seen = new HashSet<DocumentDigest>();
        var train = new TokenWriter(trainTokens, chunkTokens);
        var validation = new TokenWriter(validationTokens, chunkTokens);
        await foreach (var (line, text, error) in ReadAsync(input, options, cancellationToken))
        {
            if (error is not null)
            {
                info.Malformed++;
                if (info.MalformedExamples.Count < MaxExamples)
                {
                    info.MalformedExamples.Add(new MalformedRecord { Line = line, Reason = error });
                }

                continue;
            }

            var document = Normalize(text!);
            if (document.Length == 0)
            {
                continue;
            }

            var digest = DocumentDigest.Of(document);
            if (!seen.Add(digest))
            {
                info.Duplicates++;
                continue;
            }

            info.Documents++;
            var target = digest.Bucket % 100 < options.ValidationPercent ? validation : train;
            await target.WriteAsync(tokenizer.Encode(document), cancellationToken);
            await target.WriteAsync(separator, cancellationToken);
        }

        await train.FlushAsync(cancellationToken);
        await validation.FlushAsync(cancellationToken);
        info.TrainTokens = train.Count;
        info.ValidationTokens = validation.Count;
        info.Version = ContentHash(seen, tokenizer.Id, options.ValidationPercent);
        return info;
    }

    private static IReadOnlyList<int> Separator(ITokenizer tokenizer) =>
        tokenizer.EndOfTextId is { } endOfText ? [endOfText] : tokenizer.Encode("\n\n");

    private static string Normalize(string text) =>
        text.Normalize(NormalizationForm.FormC).Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n').Trim();

    /// <summary>Order-independent: the same set of documents gives the same version however it was uploaded.</summary>
    private static string ContentHash(HashSet<DocumentDigest> documents, string tokenizer, int validationPercent)
    {
        var sorted = documents.ToArray();
        Array.Sort(sorted, DocumentDigest.Compare);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{tokenizer}|{validationPercent}|"));
        foreach (var document in sorted)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(document.ToHex()));
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    private static async IAsyncEnumerable<(long Line, string? Text, string? Error)> ReadAsync(
        TextReader input, IngestOptions options, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var lines = new BoundedLineReader(input, MaxDocumentChars);
        var paragraph = new StringBuilder();
        var paragraphTooLong = false;
        long line = 0;
        long paragraphStart = 0;
        var tooLong = $"longer than {MaxDocumentChars} characters; split it into smaller documents";
        while (await lines.ReadLineAsync(cancellationToken) is (var text, var longLine) && (text is not null || longLine))
        {
            line++;
            if (options.Format == RecordFormat.Jsonl)
            {
                if (longLine)
                {
                    yield return (line, null, $"the line is {tooLong}");
                }
                else if (!string.IsNullOrWhiteSpace(text))
                {
                    yield return ParseJson(line, text, options.TextField);
                }

                continue;
            }

            if (!longLine && string.IsNullOrWhiteSpace(text))
            {
                if (paragraph.Length > 0 || paragraphTooLong)
                {
                    yield return paragraphTooLong ? (paragraphStart, null, $"the document is {tooLong}") : (paragraphStart, paragraph.ToString(), null);
                    paragraph.Clear();
                    paragraphTooLong = false;
                }

                continue;
            }

            if (paragraph.Length == 0 && !paragraphTooLong)
            {
                paragraphStart = line;
            }

            // Past the bound the paragraph is read to its end but no longer kept.
            paragraphTooLong |= longLine || (paragraph.Length > 0 ? paragraph.Length + 1 : 0) + text!.Length > MaxDocumentChars;
            if (paragraphTooLong)
            {
                paragraph.Clear();
                continue;
            }

            if (paragraph.Length > 0)
            {
                paragraph.Append('\n');
            }

            paragraph.Append(text);
        }

        if (paragraph.Length > 0 || paragraphTooLong)
        {
            yield return paragraphTooLong ? (paragraphStart, null, $"the document is {tooLong}") : (paragraphStart, paragraph.ToString(), null);
        }
    }

    private static (long Line, string? Text, string? Error) ParseJson(long line, string text, string field)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (line, null, $"not a JSON object ({document.RootElement.ValueKind})");
            }

            return document.RootElement.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.String
                ? (line, value.GetString(), null)
                : (line, null, $"no string field '{field}'");
        }
        catch (JsonException error)
        {
            return (line, null, $"invalid JSON: {error.Message}");
        }
        catch (InvalidOperationException)
        {
            // Names and strings are decoded only when read: an escaped lone surrogate throws there.
            return (line, null, "a name or string is not valid Unicode text");
        }
    }
}
