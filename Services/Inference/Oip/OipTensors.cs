using System.Buffers.Binary;
using Google.Protobuf;
using Google.Protobuf.Collections;
using Google.Rpc;
using Inference;
using MsSwift.Contracts.V1;
using MsSwift.Inference.Serving;

namespace MsSwift.Inference.Oip;

/// <summary>
/// The tensors of an Open Inference Protocol request as predict requests, and the answers as
/// tensors. A text model takes one BYTES tensor <c>text_input</c> (the name Triton's vLLM and
/// TensorRT-LLM backends use) of any shape: each element is one UTF-8 prompt, so shape [n]
/// (or [n, 1]) is n prompts. It answers one BYTES tensor <c>text_output</c> of the same shape.
/// Generation options come from the request's <c>parameters</c> (<see cref="OipParameters"/>).
/// </summary>
internal static class OipTensors
{
    public const string InputName = "text_input";
    public const string OutputName = "text_output";
    public const string Bytes = "BYTES";

    /// <summary>The prompts, the input's shape, and whether they came as <c>raw_input_contents</c> (then the answer does too).</summary>
    public sealed record Prompts(IReadOnlyList<ByteString> Texts, IReadOnlyList<long> Shape, bool Raw);

    /// <summary>Reads the prompts; throws <see cref="PredictException"/> (InvalidArgument) naming every bad field.</summary>
    public static Prompts Read(ModelInferRequest request, int maxPrompts)
    {
        var violations = new BadRequest();
        Prompts? prompts = null;
        if (request.Inputs.Count == 0)
        {
            Add(violations, "inputs", $"must hold the {InputName} tensor");
        }
        else if (request.Inputs.Count > 1)
        {
            Add(violations, "inputs", $"this model takes one input tensor, {InputName}; got {request.Inputs.Count}");
        }
        else
        {
            prompts = ReadInput(request, maxPrompts, violations);
        }

        // One violation for all unknown outputs: a request naming thousands must not get an answer
        // (or gRPC trailers) many times its own size.
        var unknown = request.Outputs.Select((output, index) => (output.Name, index)).Where(output => output.Name != OutputName).ToList();
        if (unknown.Count > 0)
        {
            var (name, index) = unknown[0];
            var more = unknown.Count > 1 ? $" (and {unknown.Count - 1} more unknown outputs)" : "";
            Add(violations, $"outputs[{index}].name", $"unknown output '{Clip(name)}'{more}; this model has one output, {OutputName}");
        }

        if (violations.FieldViolations.Count > 0)
        {
            throw PredictException.InvalidArgument(violations);
        }

        return prompts!;
    }

    private static Prompts? ReadInput(ModelInferRequest request, int maxPrompts, BadRequest violations)
    {
        var input = request.Inputs[0];
        const string field = "inputs[0]";
        if (input.Name != InputName)
        {
            Add(violations, $"{field}.name", $"unknown input '{Clip(input.Name)}'; this model takes {InputName}");
            return null;
        }

        if (input.Datatype != Bytes)
        {
            Add(violations, $"{field}.datatype", $"{InputName} must be {Bytes} (UTF-8 text), got '{Clip(input.Datatype)}'");
            return null;
        }

        if (ElementCount(input.Shape) is not { } count)
        {
            Add(violations, $"{field}.shape", $"must be a list of non-negative dimensions, got {ShapeText(input.Shape)}");
            return null;
        }

        if (count == 0)
        {
            Add(violations, $"{field}.shape", "must hold at least one prompt");
            return null;
        }

        if (count > maxPrompts)
        {
            Add(violations, $"{field}.shape", $"holds {count} prompts; at most {maxPrompts} are accepted in one request");
            return null;
        }

        var raw = request.RawInputContents.Count > 0;
        IReadOnlyList<ByteString>? texts;
        if (raw)
        {
            if (request.RawInputContents.Count != request.Inputs.Count || input.Contents is { } both && (HoldsOtherTypes(both) || both.BytesContents.Count > 0))
            {
                Add(violations, "raw_input_contents", "must hold one entry per input, and no input may also set contents");
                return null;
            }

            texts = SplitRawBytes(request.RawInputContents[0]);
            if (texts is null)
            {
                Add(violations, "raw_input_contents[0]", "is not a BYTES tensor: each element must be a 4-byte little-endian length followed by that many bytes");
                return null;
            }
        }
        else
        {
            var contents = input.Contents ?? new InferTensorContents();
            if (HoldsOtherTypes(contents))
            {
                Add(violations, $"{field}.contents", $"a {Bytes} tensor's elements go in bytes_contents only");
                return null;
            }

            texts = contents.BytesContents;
        }

        if (texts.Count != count)
        {
            Add(violations, raw ? "raw_input_contents[0]" : $"{field}.contents", $"shape {ShapeText(input.Shape)} holds {count} elements but {texts.Count} were sent");
            return null;
        }

        return new Prompts(texts, [.. input.Shape], raw);
    }

    /// <summary>A shape as an error shows it: the first dimensions, and how many there are when that is not all.</summary>
    private static string ShapeText(RepeatedField<long> shape) =>
        shape.Count <= 8 ? $"[{string.Join(", ", shape)}]" : $"[{string.Join(", ", shape.Take(8))}, ...] ({shape.Count} dimensions)";

    /// <summary>A caller's name as an error echoes it: at most 64 characters.</summary>
    public static string Clip(string name) => name.Length <= 64 ? name : $"{name[..64]}...";

    /// <summary>The element count of a shape, or null when a dimension is negative or the count overflows.</summary>
    public static long? ElementCount(RepeatedField<long> shape)
    {
        if (shape.Count == 0 || shape.Any(dimension => dimension < 0))
        {
            return null;
        }

        try
        {
            return shape.Aggregate(1L, (product, dimension) => checked(product * dimension));
        }
        catch (OverflowException)
        {
            return null;
        }
    }

    private static bool HoldsOtherTypes(InferTensorContents contents) =>
        contents.BoolContents.Count + contents.IntContents.Count + contents.Int64Contents.Count + contents.UintContents.Count
        + contents.Uint64Contents.Count + contents.Fp32Contents.Count + contents.Fp64Contents.Count > 0;

    /// <summary>The protocol's raw BYTES layout (as tritonclient sends it): each element a uint32 little-endian length, then its bytes.</summary>
    private static List<ByteString>? SplitRawBytes(ByteString raw)
    {
        var elements = new List<ByteString>();
        var span = raw.Span;
        var offset = 0;
        while (offset < span.Length)
        {
            if (span.Length - offset < sizeof(uint))
            {
                return null;
            }

            var length = BinaryPrimitives.ReadUInt32LittleEndian(span[offset..]);
            offset += sizeof(uint);
            if (length > (uint)(span.Length - offset))
            {
                return null;
            }

            elements.Add(ByteString.CopyFrom(span.Slice(offset, (int)length)));
            offset += (int)length;
        }

        return elements;
    }

    /// <summary>The answers as the protocol's response: <c>text_output</c> with the input's shape, raw when the input was.</summary>
    public static ModelInferResponse Response(ModelInferRequest request, Prompts prompts, IReadOnlyList<PredictResponse> answers)
    {
        var output = new ModelInferResponse.Types.InferOutputTensor { Name = OutputName, Datatype = Bytes, Shape = { prompts.Shape } };
        var response = new ModelInferResponse
        {
            ModelName = answers[0].Model,
            ModelVersion = answers[0].ModelVersion,
            Id = request.Id,
            Outputs = { output },
        };
        if (prompts.Raw)
        {
            response.RawOutputContents.Add(JoinRawBytes(answers.Select(answer => answer.OutputData)));
        }
        else
        {
            output.Contents = new InferTensorContents { BytesContents = { answers.Select(answer => answer.OutputData) } };
        }

        // The token counts, summed over the prompts, and why each one ended: what OpenAI's usage and finish_reason say.
        response.Parameters["prompt_tokens"] = new InferParameter { Int64Param = answers.Sum(answer => (long)answer.Usage.PromptTokens) };
        response.Parameters["completion_tokens"] = new InferParameter { Int64Param = answers.Sum(answer => (long)answer.Usage.CompletionTokens) };
        response.Parameters["finish_reason"] = new InferParameter { StringParam = string.Join(',', answers.Select(answer => answer.FinishReason)) };
        return response;
    }

    private static ByteString JoinRawBytes(IEnumerable<ByteString> elements)
    {
        using var buffer = new MemoryStream();
        Span<byte> length = stackalloc byte[sizeof(uint)];
        foreach (var element in elements)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)element.Length);
            buffer.Write(length);
            element.WriteTo(buffer);
        }

        return ByteString.CopyFrom(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    internal static void Add(BadRequest violations, string field, string description) =>
        violations.FieldViolations.Add(new BadRequest.Types.FieldViolation { Field = field, Description = description });
}
