// fovea._fovea: the C++ API for Python (pybind11). The package fovea/__init__.py re-exports it and
// turns PIL images into arrays; everything else is here.
// Arrays in: float32 [N, C, H, W], read in place when C-contiguous (NumPy, or a CPU torch tensor
// through __array__), copied once otherwise. Arrays out own their memory (the fovea::Tensor moves
// into the array's base object). The GIL is released while fovea computes, decodes or loads.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <fovea/data/transforms.hpp>
#include <fovea/fovea.hpp>
#include <fovea/visualize/analysis.hpp>

namespace py = pybind11;
using fovea::detail::fail;

namespace {

// A fovea::Tensor as a NumPy array that owns it (no copy); `shape` may regroup its dimensions.
template <std::size_t R>
py::array_t<float> to_numpy(fovea::Tensor<float, R>&& t, std::vector<py::ssize_t> shape = {}) {
    auto* owned = new fovea::Tensor<float, R>(std::move(t));
    py::capsule base(owned, [](void* p) { delete static_cast<fovea::Tensor<float, R>*>(p); });
    if (shape.empty()) shape.assign(owned->shape().begin(), owned->shape().end());
    return py::array_t<float>(shape, owned->data(), base);
}

// Runs f with the GIL released (fovea's work: no Python objects touched inside).
template <typename F>
auto nogil(F&& f) {
    py::gil_scoped_release free;
    return f();
}

std::string type_name(py::handle h) { return py::str(py::type::handle_of(h).attr("__name__")); }

// A float32 array of rank R: a view of the caller's memory where it is C-contiguous, else one copy.
template <std::size_t R>
struct Input {
    py::array keep;  // what the view points into, alive as long as this
    fovea::TensorView<const float, R> view{nullptr, {}};

    Input(py::handle obj, const char* what, const char* dims) {
        if (obj.is_none()) fail(what, ": expected a float32 array ", dims, ", got None");
        py::array a = py::array::ensure(obj);  // ndarray, __array__ (torch), buffer protocol
        if (!a) {
            PyErr_Clear();
            fail(what, ": expected a float32 array ", dims, ", got ", type_name(obj));
        }
        if (!a.dtype().is(py::dtype::of<float>()))
            fail(what, ": expected float32 values, got ", std::string(py::str(a.dtype())),
                 " (convert with x.astype(numpy.float32))");
        if (a.ndim() != static_cast<py::ssize_t>(R)) fail(what, ": expected a float32 array ", dims, ", got ", a.ndim(), " dimensions");
        if (!(a.flags() & py::array::c_style)) a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);
        if (!a) {
            PyErr_Clear();
            fail(what, ": could not make a contiguous copy of the input");
        }
        keep = a;
        std::array<std::int64_t, R> shape{};
        for (std::size_t i = 0; i < R; ++i) shape[i] = a.shape(static_cast<py::ssize_t>(i));
        view = {static_cast<const float*>(a.data()), shape};
    }
};

// What fovea needs to know of a model to run timm's eval transform: its data config.
fovea::PretrainedCfg cfg_of(py::handle model_or_name) {
    if (py::isinstance<py::str>(model_or_name)) return fovea::pretrained_cfg(model_or_name.cast<std::string>());
    return model_or_name.cast<const fovea::Model&>().pretrained_cfg();
}

// One preprocess item, taken from Python while the GIL is held: a path, encoded bytes or pixels.
using Item = std::variant<std::string, std::vector<std::uint8_t>, fovea::Image>;

Item item_of(py::handle h, std::size_t i) {
    const std::string where = "preprocess: item " + std::to_string(i);
    if (py::isinstance<py::str>(h)) return h.cast<std::string>();
    if (py::isinstance<py::bytes>(h)) {
        const std::string_view b = h.cast<std::string_view>();
        return std::vector<std::uint8_t>(b.begin(), b.end());
    }
    if (py::isinstance<py::array>(h)) {
        py::array a = py::reinterpret_borrow<py::array>(h);
        if (!a.dtype().is(py::dtype::of<std::uint8_t>()))
            fail(where, ": pixel arrays are uint8 [H, W, 3] or [H, W], got ", std::string(py::str(a.dtype())));
        const py::ssize_t nd = a.ndim();
        const py::ssize_t c = nd == 3 ? a.shape(2) : 1;
        if (!(nd == 2 || (nd == 3 && (c == 1 || c == 3))))
            fail(where, ": pixel arrays are uint8 [H, W, 3] or [H, W], got ", nd, " dimensions");
        if (a.shape(0) < 1 || a.shape(1) < 1 || a.shape(0) > fovea::detail::kMaxInputSide * 4 || a.shape(1) > fovea::detail::kMaxInputSide * 4)
            fail(where, ": an image of ", a.shape(1), "x", a.shape(0), " pixels (1 to ", fovea::detail::kMaxInputSide * 4, " a side)");
        auto packed = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>::ensure(a);
        fovea::Image img;
        img.height = a.shape(0), img.width = a.shape(1), img.channels = c;
        img.pixels.assign(packed.data(), packed.data() + packed.size());
        return img;
    }
    fail(where, ": expected a path, encoded bytes, a PIL image or a uint8 array, got ", type_name(h));
}

py::array_t<float> preprocess(py::handle model_or_name, py::handle items) {
    const fovea::PretrainedCfg cfg = cfg_of(model_or_name);
    if (py::isinstance<py::str>(items) || py::isinstance<py::bytes>(items) || !py::isinstance<py::sequence>(items))
        fail("preprocess: expected a list of images, got ", type_name(items));
    auto seq = py::reinterpret_borrow<py::sequence>(items);
    if (seq.size() == 0) fail("preprocess: no images");
    if (seq.size() > 65536) fail("preprocess: ", seq.size(), " images in one batch (at most 65536; run them in batches)");
    std::vector<Item> in;
    for (std::size_t i = 0; i < seq.size(); ++i) in.push_back(item_of(seq[i], i));

    const std::int64_t C = cfg.input_size[0], H = cfg.input_size[1], W = cfg.input_size[2];
    fovea::Tensor<float, 4> x({static_cast<std::int64_t>(in.size()), C, H, W});
    {
        py::gil_scoped_release free;
        const int decode_channels = C == 1 ? 1 : 3;
        for (std::size_t i = 0; i < in.size(); ++i) {
            const std::string where = std::holds_alternative<std::string>(in[i]) ? std::get<std::string>(in[i])
                                                                                   : "preprocess: item " + std::to_string(i);
            try {
                fovea::Image img;
                if (auto* path = std::get_if<std::string>(&in[i])) img = fovea::load_image(*path, decode_channels);
                else if (auto* bytes = std::get_if<std::vector<std::uint8_t>>(&in[i]))
                    img = fovea::decode_image(bytes->data(), bytes->size(), decode_channels, where);
                else img = std::move(std::get<fovea::Image>(in[i]));
                const fovea::Image crop = fovea::eval_resize_crop(fovea::convert_channels(img, C), cfg);
                fovea::to_normalized_chw(crop, cfg, x.data() + static_cast<std::int64_t>(i) * C * H * W);
            } catch (const fovea::Error& e) {
                const std::string msg = e.what();
                if (msg.rfind(where, 0) == 0) throw;
                fail(where, ": ", msg);
            }
        }
    }
    return to_numpy(std::move(x));
}

py::dict cfg_dict(const fovea::PretrainedCfg& c) {
    py::dict d;
    d["input_size"] = py::make_tuple(c.input_size[0], c.input_size[1], c.input_size[2]);
    d["interpolation"] = c.interpolation;
    d["crop_pct"] = c.crop_pct;
    d["crop_mode"] = c.crop_mode;
    d["mean"] = py::tuple(py::cast(c.mean));
    d["std"] = py::tuple(py::cast(c.std));
    return d;
}

fovea::LoadOptions load_options(const std::string& precision, std::optional<std::int64_t> num_classes, int threads,
                                bool allow_non_finite) {
    fovea::LoadOptions o;
    o.precision = fovea::parse_precision(precision);
    o.num_classes = num_classes;
    if (threads < 0) fail("threads must be 0 (the pool's size) or more, got ", threads);
    o.threads = threads;
    o.allow_non_finite = allow_non_finite;
    return o;
}

// timm returns Swin's features as [N, H, W, C] and the ViT family's as [N, T, C].
py::array_t<float> features_to_numpy(const fovea::Model& m, fovea::Features&& f) {
    std::vector<py::ssize_t> shape;
    if (m.info().family == "swin") shape = {f.tokens.shape(0), f.grid_h, f.grid_w, f.tokens.shape(2)};
    return to_numpy(std::move(f.tokens), shape);
}

fovea::Features features_from(const fovea::Model& m, py::handle obj) {
    py::array a = py::array::ensure(obj);
    const bool map = a && a.ndim() == 4;
    if (!a) PyErr_Clear();
    fovea::Features f;
    if (map) {
        Input<4> in(obj, "forward_head", "[N, H, W, C] or [N, T, C]");
        const auto& s = in.view.shape();
        f.tokens = fovea::Tensor<float, 3>({s[0], s[1] * s[2], s[3]});
        f.grid_h = s[1], f.grid_w = s[2];
        std::memcpy(f.tokens.data(), in.view.data(), static_cast<std::size_t>(f.tokens.size()) * sizeof(float));
    } else {
        Input<3> in(obj, "forward_head", "[N, T, C] or [N, H, W, C]");
        const auto& s = in.view.shape();
        f.tokens = fovea::Tensor<float, 3>(s);
        f.prefix_tokens = std::min(m.prefix_tokens(), s[1]);
        f.grid_h = s[1] - f.prefix_tokens, f.grid_w = 1;
        std::memcpy(f.tokens.data(), in.view.data(), static_cast<std::size_t>(f.tokens.size()) * sizeof(float));
    }
    return f;
}

py::dict attention_dict(fovea::AttentionMap&& a) {
    py::dict d;
    d["block"] = a.block;
    d["probs"] = to_numpy(std::move(a.probs));
    d["window"] = py::make_tuple(a.window_h, a.window_w);
    d["shift"] = py::make_tuple(a.shift_h, a.shift_w);
    d["map"] = py::make_tuple(a.map_h, a.map_w);
    d["token_pos"] = py::array_t<std::int64_t>(static_cast<py::ssize_t>(a.token_pos.size()), a.token_pos.data());
    return d;
}

}  // namespace

PYBIND11_MODULE(_fovea, m) {
    m.doc() = "fovea: timm's vision transformers on the CPU";
    py::register_exception<fovea::Error>(m, "Error", PyExc_ValueError);
    m.attr("__version__") = fovea::version_string;

    using Model = fovea::Model;
    py::class_<Model, std::shared_ptr<Model>> model(m, "Model", R"(A loaded model (fovea.load_model / fovea.create_model).

model(x) / model.forward(x): float32 [N, C, H, W] -> [N, num_classes] (the pooled
features [N, num_features] when num_classes is 0). Safe to call from several threads.)");
    model
        .def(
            "forward",
            [](const Model& self, py::handle x) {
                Input<4> in(x, "forward", "[N, C, H, W]");
                return to_numpy(nogil([&] { return self.forward(in.view); }));
            },
            py::arg("x"), "float32 [N, C, H, W] (already normalised) -> logits [N, num_classes]")
        .def(
            "__call__",
            [](const Model& self, py::handle x) {
                Input<4> in(x, "forward", "[N, C, H, W]");
                return to_numpy(nogil([&] { return self.forward(in.view); }));
            },
            py::arg("x"), "the same as forward(x)")
        .def(
            "forward_features",
            [](const Model& self, py::handle x) {
                Input<4> in(x, "forward_features", "[N, C, H, W]");
                std::optional<fovea::Features> f;
                {
                    py::gil_scoped_release free;
                    f.emplace(self.forward_features(in.view));
                }
                return features_to_numpy(self, std::move(*f));
            },
            py::arg("x"),
            "[N, C, H, W] -> the final-norm tokens as timm returns them: [N, T, C] (prefix tokens first) or, for "
            "Swin, [N, H, W, C]")
        .def(
            "forward_head",
            [](const Model& self, py::handle features, bool pre_logits) {
                fovea::Features f = features_from(self, features);
                return to_numpy(nogil([&] { return self.forward_head(f, pre_logits); }));
            },
            py::arg("features"), py::arg("pre_logits") = false,
            "forward_features' output -> logits, or the pooled (pre-logits) features with pre_logits=True")
        .def(
            "forward_intermediates",
            [](const Model& self, py::handle x, py::object indices, bool norm, const std::string& output_fmt,
               bool intermediates_only, bool return_prefix_tokens) -> py::object {
                fovea::IntermediateOptions o;
                if (py::isinstance<py::int_>(indices)) o.last = indices.cast<int>();
                else if (!indices.is_none()) o.indices = indices.cast<std::vector<int>>();
                o.norm = norm;
                if (output_fmt == "NLC") o.format = fovea::FeatureFormat::NLC;
                else if (output_fmt != "NCHW") fail("forward_intermediates: output_fmt '", output_fmt, "' is not NCHW or NLC");
                o.intermediates_only = intermediates_only;
                Input<4> in(x, "forward_intermediates", "[N, C, H, W]");
                std::optional<fovea::Intermediates> r;
                {
                    py::gil_scoped_release free;
                    r.emplace(self.forward_intermediates(in.view, o));
                }
                py::list out;
                const std::size_t n = o.format == fovea::FeatureFormat::NCHW ? r->maps.size() : r->tokens.size();
                for (std::size_t i = 0; i < n; ++i) {
                    py::object t = o.format == fovea::FeatureFormat::NCHW ? py::object(to_numpy(std::move(r->maps[i])))
                                                                          : py::object(to_numpy(std::move(r->tokens[i])));
                    if (return_prefix_tokens && i < r->prefix.size()) out.append(py::make_tuple(t, to_numpy(std::move(r->prefix[i]))));
                    else out.append(t);
                }
                if (intermediates_only) return out;
                return py::make_tuple(features_to_numpy(self, std::move(r->features)), out);
            },
            py::arg("x"), py::arg("indices") = py::none(), py::arg("norm") = false, py::arg("output_fmt") = "NCHW",
            py::arg("intermediates_only") = false, py::arg("return_prefix_tokens") = false,
            R"(timm's forward_intermediates: indices is an int (the last n blocks or stages), a list (negative
counts from the end) or None (all). Returns the list of maps ([N, C, H, W], or [N, H*W, C] with
output_fmt='NLC'), or (features, maps) unless intermediates_only.)")
        .def_property_readonly("architecture", &Model::architecture)
        .def_property_readonly("num_classes", &Model::num_classes)
        .def_property_readonly("num_features", &Model::num_features)
        .def_property_readonly("num_prefix_tokens", &Model::prefix_tokens)
        .def_property_readonly("in_chans", &Model::in_chans)
        .def_property_readonly("family", [](const Model& self) { return self.info().family; })
        .def_property_readonly("precision", [](const Model& self) { return std::string(fovea::precision_name(self.precision())); })
        .def_property_readonly("pretrained_cfg", [](const Model& self) { return cfg_dict(self.pretrained_cfg()); },
                               "timm's eval data config: input_size, interpolation, crop_pct, crop_mode, mean, std")
        .def_property_readonly("label_names", &Model::label_names)
        .def_property_readonly("warnings", &Model::warnings)
        .def("feature_grid", &Model::feature_grid, py::arg("height"), py::arg("width"),
             "the (rows, columns) of forward_features' patch grid for an input of height x width pixels")
        .def("__repr__", [](const Model& self) {
            return "<fovea.Model " + self.architecture() + " " + fovea::precision_name(self.precision()) + ", " +
                   std::to_string(self.num_classes()) + " classes>";
        });

    m.def(
        "load_model",
        [](const std::string& path, const std::string& precision, std::optional<std::int64_t> num_classes, int threads,
           bool allow_non_finite) {
            const auto o = load_options(precision, num_classes, threads, allow_non_finite);
            py::gil_scoped_release free;
            return std::make_shared<Model>(fovea::load_model(path, o));
        },
        py::arg("path"), py::arg("precision") = "f32", py::arg("num_classes") = py::none(), py::arg("threads") = 0,
        py::arg("allow_non_finite") = false,
        R"(Load a timm hub folder (model.safetensors + config.json) or a .safetensors file.

precision: "f32", "bf16" or "int8". num_classes: None (as the checkpoint), 0 (no head:
forward returns pooled features) or the checkpoint's count. threads: parts each call is
split into (0: fovea.get_num_threads()).)");
    m.def(
        "create_model",
        [](const std::string& name, const std::string& weights, const std::string& precision,
           std::optional<std::int64_t> num_classes, int threads) {
            const auto o = load_options(precision, num_classes, threads, false);
            py::gil_scoped_release free;
            return std::make_shared<Model>(fovea::create_model(name, weights, o));
        },
        py::arg("name"), py::arg("weights"), py::arg("precision") = "f32", py::arg("num_classes") = py::none(),
        py::arg("threads") = 0, "A timm preset by name (fovea.list_models()) with weights from a file or folder.");
    m.def("list_models", &fovea::model_names, "Every preset name fovea knows, sorted.");
    m.def("preset_cfg", [](const std::string& name) { return cfg_dict(fovea::pretrained_cfg(name)); }, py::arg("name"),
          "A preset's eval data config, as timm's pretrained_cfg.");
    m.def("_preprocess", &preprocess, py::arg("model"), py::arg("items"));
    m.def(
        "top_k",
        [](const Model& model, py::handle logits, std::int64_t k) {
            Input<2> in(logits, "top_k", "[N, classes]");
            py::list rows;
            for (auto& row : fovea::top_k(model, in.view, k)) {
                py::list r;
                for (auto& p : row) r.append(py::make_tuple(p.index, p.prob, p.label));
                rows.append(r);
            }
            return rows;
        },
        py::arg("model"), py::arg("logits"), py::arg("k") = 5,
        "The k most likely classes of each row of logits: [[(index, probability, label), ...], ...].");
    m.def(
        "embed",
        [](const Model& model, py::handle x, bool normalize) {
            Input<4> in(x, "embed", "[N, C, H, W]");
            return to_numpy(nogil([&] { return fovea::embed(model, in.view, normalize); }));
        },
        py::arg("model"), py::arg("x"), py::arg("normalize") = true,
        "Image embeddings [N, D], L2-normalised unless normalize=False: a CLIP tower's projection head (not\n"
        "an ImageNet classifier's 1000 or 11821 classes), else the pooled pre-logits features (SigLIP, DINOv2, ...).");
    m.def(
        "zero_shot",
        [](const Model& model, py::handle x, py::handle text, std::optional<float> logit_scale, std::optional<float> logit_bias,
           std::optional<std::string> weights) {
            Input<4> in(x, "zero_shot", "[N, C, H, W]");
            Input<2> t(text, "zero_shot", "[K, D] text embeddings");
            fovea::ZeroShotHead head;
            if (logit_scale) head = {*logit_scale, logit_bias};
            else if (weights) head = fovea::zero_shot_head(model, *weights);
            else if (!fovea::is_clip_tower(model))
                fail("zero_shot: give logit_scale (and SigLIP's logit_bias), or weights= the folder with open_clip_model.safetensors");
            if (logit_bias) head.logit_bias = logit_bias;
            std::optional<fovea::ZeroShot> z;
            {
                py::gil_scoped_release free;
                z.emplace(fovea::zero_shot(model, in.view, t.view, head));
            }
            return py::make_tuple(to_numpy(std::move(z->probs)), to_numpy(std::move(z->logits)));
        },
        py::arg("model"), py::arg("x"), py::arg("text_embeddings"), py::arg("logit_scale") = py::none(),
        py::arg("logit_bias") = py::none(), py::arg("weights") = py::none(),
        "Zero-shot classification against class text embeddings [K, D] made by the model's text tower elsewhere\n"
        "(OpenCLIP, transformers): (probs [N, K], logits [N, K]). CLIP: softmax(logit_scale * cos); with\n"
        "logit_bias (SigLIP): sigmoid(logit_scale * cos + logit_bias). logit_scale is exp() of the model's\n"
        "parameter: given, or read from open_clip_model.safetensors in `weights`, or 100 for a CLIP tower.");
    m.def(
        "set_num_threads",
        [](int n) {
            if (n < 0) fail("set_num_threads: n must be 0 (every core) or more, got ", n);
            py::gil_scoped_release free;
            return fovea::set_num_threads(n);
        },
        py::arg("n"), "Size fovea's thread pool (0: one per core; capped at the cores). Returns the size.");
    m.def("get_num_threads", &fovea::num_threads, "The size of fovea's thread pool.");
    m.def(
        "inspect",
        [](const Model& model, py::handle x, std::vector<std::string> attention, std::vector<std::string> tokens) {
            Input<4> in(x, "inspect", "[N, C, H, W]");
            std::optional<fovea::Inspection> r;
            {
                py::gil_scoped_release free;
                r.emplace(fovea::inspect(model, in.view, {std::move(attention), std::move(tokens)}));
            }
            py::dict d;
            d["output"] = to_numpy(std::move(r->output));
            d["pooled"] = to_numpy(std::move(r->pooled));
            py::list maps;
            for (auto& a : r->attention) maps.append(attention_dict(std::move(a)));
            d["attention"] = maps;
            py::dict toks;
            for (auto& [name, f] : r->tokens) toks[py::str(name)] = to_numpy(std::move(f.tokens));
            d["tokens"] = toks;
            return d;
        },
        py::arg("model"), py::arg("x"), py::arg("attention") = std::vector<std::string>{"*"},
        py::arg("tokens") = std::vector<std::string>{},
        R"(One forward pass that keeps the softmax attention of the named blocks ("blocks.11",
"layers.2.blocks.5", "*" for all) and the tokens of the named stages. Returns a dict:
output, pooled, attention (a list of {block, probs [N, heads, windows, Q, K], window,
shift, map, token_pos}) and tokens ({stage: [N, T, C]}).)");
    m.def("attention_blocks", &fovea::attention_blocks, py::arg("model"), "The names of a model's attention blocks, in order.");
}
