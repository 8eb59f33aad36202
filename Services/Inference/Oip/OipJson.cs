using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Collections;
using Google.Rpc;
using Inference;
using MsSwift.Inference.OpenAi;
using MsSwift.Inference.Serving;

namespace MsSwift.Inference.Oip;

/// <summary>
/// The protocol's REST (JSON) bodies to and from its gRPC messages, so both front ends share one
/// request mapping: <c>{"id", "parameters", "inputs": [{"name", "shape", "datatype", "parameters",
/// "data"}], "outputs": [{"name", "parameters"}]}</c> in, <c>{"model_name", "model_version", "id",
/// "parameters", "outputs": [{"name", "shape", "datatype", "data"}]}</c> out. BYTES elements are
/// JSON strings; <c>data</c> may be flat or nested row-major. A fractional number parameter is
/// carried as its JSON text (the proto's parameter has no double) and read back as a number.
/// </summary>
internal static class OipJson
{
    /// <summary>The request; throws <see cref="PredictException"/> (InvalidArgument) for a body that does not fit the protocol.</summary>
    public static ModelInferRequest Request(JsonElement body, string model, string version)
    {
        try
        {
            return Read(body, model, version);
        }
        catch (InvalidOperationException)
        {
            // System.Text.Json decodes property names only when they are looked up or enumerated,
            // and throws there for an escaped lone surrogate or invalid UTF-8 in one.
            var violations = new BadRequest();
            return Fail<ModelInferRequest>(violations, "body", "has a property name that is not valid Unicode text");
        }
    }

    private static ModelInferRequest Read(JsonElement body, string model, string version)
    {
        var violations = new BadRequest();
        var request = new ModelInferRequest { ModelName = model, ModelVersion = version };
        if (body.ValueKind != JsonValueKind.Object)
        {
            Fail(violations, "body", "must be a JSON object");
        }

        if (body.TryGetProperty("id", out var id))
        {
            request.Id = JsonText.StringOrNull(id) ?? Fail(violations, "id", "must be a string");
        }

        if (body.TryGetProperty("parameters", out var parameters))
        {
            ReadParameters(parameters, "parameters", request.Parameters, violations);
        }

        if (!body.TryGetProperty("inputs", out var inputs) || inputs.ValueKind != JsonValueKind.Array)
        {
            Fail(violations, "inputs", "is required: a list of input tensors");
        }

        foreach (var (input, index) in inputs.EnumerateArray().Select((input, index) => (input, index)))
        {
            request.Inputs.Add(ReadInput(input, $"inputs[{index}]", violations));
        }

        if (body.TryGetProperty("outputs", out var outputs))
        {
            if (outputs.ValueKind != JsonValueKind.Array)
            {
                Fail(violations, "outputs", "must be a list of requested outputs");
            }

            foreach (var (output, index) in outputs.EnumerateArray().Select((output, index) => (output, index)))
            {
                var field = $"outputs[{index}]";
                var requested = new ModelInferRequest.Types.InferRequestedOutputTensor
                {
                    Name = output.ValueKind == JsonValueKind.Object && output.TryGetProperty("name", out var name) && JsonText.StringOrNull(name) is { } text
                        ? text : Fail(violations, $"{field}.name", "is required: a string"),
                };
                request.Outputs.Add(requested);
            }
        }

        return request;
    }

    private static ModelInferRequest.Types.InferInputTensor ReadInput(JsonElement input, string field, BadRequest violations)
    {
        if (input.ValueKind != JsonValueKind.Object)
        {
            Fail(violations, field, "must be an object with name, shape, datatype and data");
        }

        var tensor = new ModelInferRequest.Types.InferInputTensor
        {
            Name = input.TryGetProperty("name", out var name) && JsonText.StringOrNull(name) is { } text ? text : Fail(violations, $"{field}.name", "is required: a string"),
            Datatype = input.TryGetProperty("datatype", out var datatype) && JsonText.StringOrNull(datatype) is { } type ? type : Fail(violations, $"{field}.datatype", "is required: a string such as BYTES"),
        };
        if (!input.TryGetProperty("shape", out var shape) || shape.ValueKind != JsonValueKind.Array)
        {
            Fail(violations, $"{field}.shape", "is required: a list of integers");
        }

        foreach (var dimension in shape.EnumerateArray())
        {
            tensor.Shape.Add(dimension.ValueKind == JsonValueKind.Number && dimension.TryGetInt64(out var size)
                ? size : Fail<long>(violations, $"{field}.shape", "must be a list of integers"));
        }

        if (input.TryGetProperty("parameters", out var parameters))
        {
            ReadParameters(parameters, $"{field}.parameters", tensor.Parameters, violations);
        }

        if (!input.TryGetProperty("data", out var data))
        {
            Fail(violations, $"{field}.data", "is required");
        }

        // Only BYTES data is read, and only as many elements as the shape holds (a body of ten
        // million empty strings is refused at the first one too many, not after building them);
        // any other datatype, and an invalid shape, are refused by name when the tensors are mapped.
        if (tensor.Datatype == OipTensors.Bytes && OipTensors.ElementCount(tensor.Shape) is { } count)
        {
            tensor.Contents = new InferTensorContents();
            AddBytes(data, $"{field}.data", count, tensor.Contents.BytesContents, violations);
        }

        return tensor;
    }

    private static void AddBytes(JsonElement data, string field, long count, RepeatedField<ByteString> elements, BadRequest violations)
    {
        if (data.ValueKind == JsonValueKind.Array)
        {
            foreach (var element in data.EnumerateArray())
            {
                AddBytes(element, field, count, elements, violations);
            }

            return;
        }

        if (elements.Count == count)
        {
            Fail(violations, field, $"holds more elements than its shape's {count}");
        }

        elements.Add(data.ValueKind == JsonValueKind.String && JsonText.StringOrNull(data) is { } text
            ? ByteString.CopyFrom(text, Encoding.UTF8)
            : Fail<ByteString>(violations, field, "BYTES elements must be strings of valid Unicode text"));
    }

    private static void ReadParameters(JsonElement parameters, string field, MapField<string, InferParameter> into, BadRequest violations)
    {
        if (parameters.ValueKind != JsonValueKind.Object)
        {
            Fail(violations, field, "must be an object");
        }

        foreach (var parameter in parameters.EnumerateObject())
        {
            into[parameter.Name] = parameter.Value.ValueKind switch
            {
                JsonValueKind.True or JsonValueKind.False => new InferParameter { BoolParam = parameter.Value.GetBoolean() },
                JsonValueKind.Number when parameter.Value.TryGetInt64(out var integer) => new InferParameter { Int64Param = integer },
                JsonValueKind.Number => new InferParameter { StringParam = parameter.Value.GetRawText() },
                JsonValueKind.String when JsonText.StringOrNull(parameter.Value) is { } text => new InferParameter { StringParam = text },
                _ => Fail<InferParameter>(violations, $"{field}.{OipTensors.Clip(parameter.Name)}", "must be a boolean, a number or a string"),
            };
        }
    }

    /// <summary>Records the violation and stops reading: one bad field makes the rest meaningless.</summary>
    private static string Fail(BadRequest violations, string field, string description) => Fail<string>(violations, field, description);

    private static T Fail<T>(BadRequest violations, string field, string description)
    {
        OipTensors.Add(violations, field, description);
        throw PredictException.InvalidArgument(violations);
    }

    /// <summary>The response as the protocol's JSON; BYTES elements as strings (the model's text is UTF-8).</summary>
    public static JsonObject Response(ModelInferResponse response)
    {
        var outputs = new JsonArray();
        foreach (var output in response.Outputs)
        {
            outputs.Add(new JsonObject
            {
                ["name"] = output.Name,
                ["datatype"] = output.Datatype,
                ["shape"] = new JsonArray([.. output.Shape.Select(dimension => JsonValue.Create(dimension))]),
                ["data"] = new JsonArray([.. output.Contents.BytesContents.Select(element => JsonValue.Create(element.ToStringUtf8()))]),
            });
        }

        var json = new JsonObject { ["model_name"] = response.ModelName, ["model_version"] = response.ModelVersion };
        if (response.Id.Length > 0)
        {
            json["id"] = response.Id;
        }

        json["parameters"] = Parameters(response.Parameters);
        json["outputs"] = outputs;
        return json;
    }

    public static JsonObject Metadata(ModelMetadataResponse metadata) => new()
    {
        ["name"] = metadata.Name,
        ["versions"] = new JsonArray([.. metadata.Versions.Select(version => JsonValue.Create(version))]),
        ["platform"] = metadata.Platform,
        ["inputs"] = Tensors(metadata.Inputs),
        ["outputs"] = Tensors(metadata.Outputs),
    };

    public static JsonObject ServerMetadata(ServerMetadataResponse metadata) => new()
    {
        ["name"] = metadata.Name,
        ["version"] = metadata.Version,
        ["extensions"] = new JsonArray([.. metadata.Extensions.Select(extension => JsonValue.Create(extension))]),
    };

    private static JsonArray Tensors(IEnumerable<ModelMetadataResponse.Types.TensorMetadata> tensors) =>
        [.. tensors.Select(tensor => new JsonObject
        {
            ["name"] = tensor.Name,
            ["datatype"] = tensor.Datatype,
            ["shape"] = new JsonArray([.. tensor.Shape.Select(dimension => JsonValue.Create(dimension))]),
        })];

    private static JsonObject Parameters(MapField<string, InferParameter> parameters)
    {
        var json = new JsonObject();
        foreach (var (name, value) in parameters)
        {
            json[name] = value.ParameterChoiceCase switch
            {
                InferParameter.ParameterChoiceOneofCase.BoolParam => JsonValue.Create(value.BoolParam),
                InferParameter.ParameterChoiceOneofCase.Int64Param => JsonValue.Create(value.Int64Param),
                _ => JsonValue.Create(value.StringParam),
            };
        }

        return json;
    }
}
