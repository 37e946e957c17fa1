//! Steps that fix the names of the generated types: fal names schemas after
//! Python modules, spells a size union progenitor would name after the
//! schema it holds, and writes enums inline, so each input would get its own
//! copy of the same enum. The last step, [`hoist_shared_enums`], runs after
//! the merge.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::document::{schemas, walk_objects};
use super::step::Found;
use crate::regen::endpoints::Endpoint;

/// fal names some schemas after Python modules. The same image schema appears
/// as `registry__image__fast_sdxl__models__Image` in the pro documents and as
/// `Image` in the dev one; the toolkit's richer image is an image *file*.
/// A document whose schemas have no Python module names has nothing to rename.
const SCHEMA_RENAMES: &[(&str, &str)] = &[
    ("registry__image__fast_sdxl__models__Image", "Image"),
    ("fal__toolkit__image__image__Image", "ImageFile"),
];

pub(super) fn rename_schemas(doc: &mut Value, _: &Endpoint) -> Found {
    let Some(schemas) = schemas(doc) else {
        return Found::Missing("`components.schemas`");
    };
    let mut renamed = false;
    for (from, to) in SCHEMA_RENAMES {
        if let Some(schema) = schemas.remove(*from) {
            schemas.insert((*to).into(), schema);
            renamed = true;
        }
    }
    walk_objects(doc, &mut |map| {
        if let Some(Value::String(reference)) = map.get_mut("$ref") {
            for (from, to) in SCHEMA_RENAMES {
                if reference == &format!("#/components/schemas/{from}") {
                    *reference = format!("#/components/schemas/{to}");
                }
            }
        }
    });
    Found::by_change(renamed)
}

/// fal writes an output size as `image_size: anyOf [{$ref: ImageSize},
/// {enum: [square_hd, …]}]` titled "Image Size"
/// (<https://fal.ai/models/fal-ai/flux-kontext-lora/text-to-image/api>);
/// progenitor names the union after the title, `ImageSize`, the name of the
/// `{width, height}` schema it holds, and the generated code does not
/// compile. The union becomes the named schema `ImageSizeChoice` (`Size` or
/// `Preset`, an untagged enum), its presets the named enum `ImageSizePreset`.
/// A document without such a union has nothing to name.
pub(super) fn image_size_preset_or_size(doc: &mut Value, _: &Endpoint) -> Found {
    let Some(schemas) = schemas(doc) else {
        return Found::Missing("`components.schemas`");
    };
    let mut presets = None;
    for schema in schemas.values_mut() {
        let Some(property) = schema.pointer_mut("/properties/image_size") else {
            continue;
        };
        let Some(Value::Array(members)) = property.get("anyOf") else {
            continue;
        };
        let Some(values) = members.iter().find_map(|m| m.get("enum")).cloned() else {
            continue;
        };
        let map = property.as_object_mut().expect("it has an `anyOf`");
        map.remove("anyOf");
        map.remove("title");
        map.insert(
            "allOf".into(),
            json!([{"$ref": "#/components/schemas/ImageSizeChoice"}]),
        );
        presets = Some(values);
    }
    let Some(values) = presets else {
        return Found::AlreadyThere;
    };
    schemas.insert(
        "ImageSizePreset".into(),
        json!({"type": "string", "enum": values, "description": "One of fal's named output sizes."}),
    );
    schemas.insert(
        "ImageSizeChoice".into(),
        json!({
            "description": "An output size: `{width, height}` or one of fal's named sizes.",
            "oneOf": [
                {"title": "Size", "allOf": [{"$ref": "#/components/schemas/ImageSize"}]},
                {"title": "Preset", "allOf": [{"$ref": "#/components/schemas/ImageSizePreset"}]}
            ]
        }),
    );
    Found::Patched
}

/// Each document spells its enums inline (`output_format: {enum: [jpeg, png]}`),
/// so each input type would get its own copy. An inline string enum becomes a
/// named schema called after its property (`OutputFormat`), one for every
/// schema that uses the same values. Where schemas disagree, the values most
/// of them use keep that name and each other schema gets `<Schema><Property>`,
/// so that a change to one endpoint renames only that endpoint's type.
pub fn hoist_shared_enums(doc: &mut Value) {
    let Some(schemas) = schemas(doc) else { return };
    // property name → every (schema, values) that spells it inline
    let mut found: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    for (schema_name, schema) in schemas.iter() {
        let Some(Value::Object(properties)) = schema.get("properties") else {
            continue;
        };
        for (property, definition) in properties {
            if definition.get("type") == Some(&json!("string"))
                && let Some(values) = definition.get("enum")
            {
                found
                    .entry(property.clone())
                    .or_default()
                    .push((schema_name.clone(), values.clone()));
            }
        }
    }
    let mut hoisted = Vec::new();
    for (property, uses) in &found {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for (_, values) in uses {
            *counts.entry(values.to_string()).or_default() += 1;
        }
        // the most used values; on a tie, the first in sorted order
        let majority = counts
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(values, _)| values.clone());
        for (schema_name, values) in uses {
            let type_name = if Some(values.to_string()) == majority {
                pascal(property)
            } else {
                format!("{schema_name}{}", pascal(property))
            };
            let definition = &mut schemas[schema_name]["properties"][property];
            let map = definition.as_object_mut().expect("a property found above");
            map.remove("enum");
            map.remove("type");
            let title = map.remove("title");
            map.insert(
                "allOf".into(),
                json!([{"$ref": format!("#/components/schemas/{type_name}")}]),
            );
            let mut named = json!({"type": "string", "enum": values});
            if let Some(title) = title {
                named["title"] = title;
            }
            hoisted.push((type_name, named));
        }
    }
    for (name, schema) in hoisted {
        schemas.insert(name, schema);
    }
}

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regen::normalize::fixtures::{document, kontext};

    #[test]
    fn python_module_names_are_renamed_everywhere() {
        let mut doc = json!({
            "components": {"schemas": {
                "registry__image__fast_sdxl__models__Image": {"type": "object"},
                "Out": {"properties": {"images": {"items": {"$ref": "#/components/schemas/registry__image__fast_sdxl__models__Image"}}}}
            }}
        });
        rename_schemas(&mut doc, &kontext());
        let schemas = &doc["components"]["schemas"];
        assert!(
            schemas
                .get("registry__image__fast_sdxl__models__Image")
                .is_none()
        );
        assert_eq!(schemas["Image"], json!({"type": "object"}));
        assert_eq!(
            schemas["Out"]["properties"]["images"]["items"]["$ref"],
            json!("#/components/schemas/Image")
        );
    }

    #[test]
    fn an_image_size_union_gets_names_of_its_own() {
        let mut doc = json!({"components": {"schemas": {
            "In": {"properties": {"image_size": {"title": "Image Size", "anyOf": [
                {"$ref": "#/components/schemas/ImageSize"},
                {"type": "string", "enum": ["square", "landscape_4_3"]}
            ]}}},
            "ImageSize": {"properties": {"width": {"type": "integer"}}}
        }}});
        let found = image_size_preset_or_size(&mut doc, &kontext());
        assert_eq!(found, Found::Patched);
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["In"]["properties"]["image_size"],
            json!({"allOf": [{"$ref": "#/components/schemas/ImageSizeChoice"}]})
        );
        assert_eq!(
            schemas["ImageSizePreset"]["enum"],
            json!(["square", "landscape_4_3"])
        );
        assert!(schemas["ImageSizeChoice"]["oneOf"].is_array());
        let mut plain = document();
        assert_eq!(
            image_size_preset_or_size(&mut plain, &kontext()),
            Found::AlreadyThere
        );
    }

    #[test]
    fn shared_enums_get_one_name_and_differing_ones_their_own() {
        let mut doc = json!({"components": {"schemas": {
            "A": {"properties": {
                "output_format": {"type": "string", "enum": ["jpeg", "png"], "description": "d"},
                "mode": {"type": "string", "enum": ["x"]}
            }},
            "B": {"properties": {
                "output_format": {"type": "string", "enum": ["jpeg", "png"]},
                "mode": {"type": "string", "enum": ["y"]}
            }},
            "C": {"properties": {"mode": {"type": "string", "enum": ["y"]}}}
        }}});
        hoist_shared_enums(&mut doc);
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["OutputFormat"],
            json!({"type": "string", "enum": ["jpeg", "png"]})
        );
        assert_eq!(
            schemas["A"]["properties"]["output_format"],
            json!({"allOf": [{"$ref": "#/components/schemas/OutputFormat"}], "description": "d"})
        );
        // the values two schemas share keep the name; the odd one gets its own
        assert_eq!(schemas["Mode"]["enum"], json!(["y"]));
        assert_eq!(schemas["AMode"]["enum"], json!(["x"]));
        assert!(schemas.get("BMode").is_none() && schemas.get("CMode").is_none());
    }
}
